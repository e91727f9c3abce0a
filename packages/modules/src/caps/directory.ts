/**
 * Which notifications each resource wants (XEP-0115 §1.2, XEP-0163 §4.3.1 "+notify"): verified
 * `hash ver` → features, kept in the store's caps cache (memory/SQLite embedded, Redis in a
 * cluster) so a hash is verified once and every node can read it, with a bounded copy in
 * process memory in front. Only verified hashes are ever written (§5.4 step 3.9/3.10), so a hash
 * found here is one whose disco#info answer matched.
 *
 * A resource's claim is read from its stamped presence in the registry (SessionInfo.presence),
 * so the node that publishes needs no extra state about resources held by other nodes.
 */
import { NS_DISCO_INFO, parseFrame, parseJid, x } from "@switchboard/xml";
import type { Host, Logger, SessionInfo } from "@switchboard/core";
import { capsClaim, capsKey, capsVer } from "./hash.js";

/** Entries kept in process memory (verified features, and presence texts already read). */
const LOCAL_ENTRIES = 10_000;
/** A hash nobody has verified yet is asked of the store again after this long. */
const UNKNOWN_TTL_MS = 5_000;

export class CapsDirectory {
  private readonly known = new Map<string, ReadonlySet<string>>();
  private readonly unknownUntil = new Map<string, number>();
  private readonly claims = new Map<string, string | null>();
  private readonly verifying = new Map<string, Promise<ReadonlySet<string> | undefined>>();
  /** how many disco#info queries this node sent (tests prove a hash is asked once) */
  queries = 0;
  private readonly verifications;

  constructor(
    private readonly host: Host,
    private readonly log: Logger,
  ) {
    this.verifications = host.metrics.counter("switchboard_caps_verifications_total", {
      help: "XEP-0115 hashes this node asked a client about, by result (matched, mismatched, unanswered)",
      labels: ["result"],
    });
  }

  /** Follows other nodes' verifications (a "caps.verified" notice); returns the unsubscribe function. */
  follow(): () => void {
    return this.host.bus.subscribeControl((m) => {
      if (m.type === "caps.verified" && typeof m.key === "string") this.unknownUntil.delete(m.key);
    });
  }

  /** The features of a verified key, or undefined when no node verified it. */
  async features(key: string): Promise<ReadonlySet<string> | undefined> {
    const held = this.known.get(key);
    if (held) return held;
    if ((this.unknownUntil.get(key) ?? 0) > Date.now()) return undefined;
    const stored = await this.host.store.pep.capsGet(key);
    if (!stored) {
      bounded(this.unknownUntil, LOCAL_ENTRIES).set(key, Date.now() + UNKNOWN_TTL_MS);
      return undefined;
    }
    return this.remember(key, stored);
  }

  /** The verified features of a resource, from the caps in its last available presence. */
  async ofResource(info: SessionInfo): Promise<ReadonlySet<string> | undefined> {
    if (!info.available || !info.presence) return undefined;
    let key = this.claims.get(info.presence);
    if (key === undefined) {
      const claim = capsClaim(parseFrame(info.presence));
      key = claim ? capsKey(claim) : null;
      bounded(this.claims, LOCAL_ENTRIES).set(info.presence, key);
    }
    return key === null ? undefined : this.features(key);
  }

  /**
   * Asks the resource for `node#ver` (§6.2) and keeps the answer only when it hashes to the
   * claimed ver (§5.4); one query per key at a time on this node.
   */
  verify(fullJid: string, claim: { hash: string; node: string; ver: string }): Promise<ReadonlySet<string> | undefined> {
    const key = capsKey(claim);
    let pending = this.verifying.get(key);
    if (!pending) {
      pending = this.query(fullJid, claim, key).finally(() => this.verifying.delete(key));
      this.verifying.set(key, pending);
    }
    return pending;
  }

  private async query(fullJid: string, claim: { hash: string; node: string; ver: string }, key: string): Promise<ReadonlySet<string> | undefined> {
    // §5.4 step 3.1 ff. define sha-1 only among the hashes this server computes; others cannot be checked
    if (claim.hash !== "sha-1") return undefined;
    this.queries++;
    let answer;
    try {
      answer = await this.host.request(parseJid(fullJid), x("iq", { type: "get" }, x("query", { xmlns: NS_DISCO_INFO, node: `${claim.node}#${claim.ver}` })), 10_000);
    } catch (err) {
      this.verifications.add(1, { result: "unanswered" });
      throw err;
    }
    const query = answer.attrs.type === "result" ? answer.getChild("query", NS_DISCO_INFO) : undefined;
    const computed = query && capsVer(query);
    if (!computed || computed.ver !== claim.ver) {
      this.log.info({ jid: fullJid, claimed: claim.ver, computed: computed?.ver }, "entity capabilities hash does not match the disco#info answer; ignored");
      this.verifications.add(1, { result: "mismatched" });
      return undefined;
    }
    this.verifications.add(1, { result: "matched" });
    await this.host.store.pep.capsPut(key, computed.features);
    this.unknownUntil.delete(key);
    // other nodes may have asked the store while we verified: tell them the key is known now
    await this.host.bus.publishControl({ type: "caps.verified", origin: this.host.nodeId, key }).catch((err: unknown) => this.log.warn({ err }, "caps.verified notice not sent"));
    return this.remember(key, computed.features);
  }

  private remember(key: string, features: string[]): ReadonlySet<string> {
    const set = new Set(features);
    bounded(this.known, LOCAL_ENTRIES).set(key, set);
    return set;
  }
}

/** Keeps a map under `max` entries by starting over (a cache, not a record). */
function bounded<K, V>(map: Map<K, V>, max: number): Map<K, V> {
  if (map.size >= max) map.clear();
  return map;
}

declare module "@switchboard/core" {
  interface ControlMessages {
    /** a node verified this caps key: others stop treating it as unknown (directory.ts) */
    "caps.verified": { key: string };
  }
}

const directories = new WeakMap<Host, CapsDirectory>();

/** The one directory of a host, shared by the caps module and the modules that read it (PEP). */
export function capsDirectory(host: Host, log: Logger = host.log): CapsDirectory {
  let dir = directories.get(host);
  if (!dir) directories.set(host, (dir = new CapsDirectory(host, log)));
  return dir;
}
