/**
 * Interop with a client not written here: Debian's python3-slixmpp drives two accounts through
 * login (STARTTLS and direct TLS), chat, a mutual subscription, disco, ping, version, vcard,
 * blocking, entity time and last activity (test/interop/slixmpp_session.py prints each step's
 * outcome as JSON), a room (slixmpp_muc.py) and chat history over XEP-0313 (slixmpp_mam.py).
 *
 * .ci/run installs python3-slixmpp; on a machine without it (the README's quick start needs only
 * Node and npm) the test is skipped and says so.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";
import { runPython, slixmppPython, type ScriptRun } from "../support/slixmpp.js";

const script = fileURLToPath(new URL("../interop/slixmpp_session.py", import.meta.url));
const mucScript = fileURLToPath(new URL("../interop/slixmpp_muc.py", import.meta.url));
const mamScript = fileURLToPath(new URL("../interop/slixmpp_mam.py", import.meta.url));
const python = slixmppPython("interop-slixmpp");

function run(args: string[], file = script): Promise<ScriptRun> {
  return runPython(python!, file, args);
}

describe.skipIf(!python)("slixmpp (a client not written here)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
    await ts.addUser("sli-alice", "alice secret");
    await ts.addUser("sli-bob", "bob secret");
    await ts.addUser("sli-owner", "owner secret");
    await ts.addUser("sli-guest", "guest secret");
    await ts.addUser("sli-carol", "carol secret");
    await ts.addUser("sli-dave", "dave secret");
  }, 60_000);
  afterAll(() => ts?.stop());

  it("logs in, chats, subscribes, and uses disco, ping, version, vcard, blocking, entity time and last activity", async () => {
    // two parties on different edges in cluster mode; the direct-TLS resource on Alice's edge
    const [a, b] = [ts.nodes[0]!, ts.nodes[ts.nodes.length - 1]!];
    const { code, stdout, stderr } = await run([
      "127.0.0.1",
      String(a.ports.c2s),
      String(b.ports.c2s),
      String(a.ports.c2sTls),
      "sli-alice@localhost",
      "alice secret",
      "sli-bob@localhost",
      "bob secret",
    ]);
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(r.login.alice).toMatch(/^sli-alice@localhost\/.+/);
    // slixmpp knows only tls-unique; on TLS 1.3 it is accepted as COMPAT (stream/channel-binding.ts)
    expect(r.login.mechanism).toBe("SCRAM-SHA-256-PLUS");
    expect(r.chat).toEqual({ from: "sli-alice@localhost", body: "hello from slixmpp", type: "chat" });
    expect(r.subscribe).toEqual({ alice_sees_bob: "both", bob_sees_alice: "both" });
    expect(r.disco.features).toEqual(
      expect.arrayContaining([
        "urn:xmpp:ping",
        "vcard-temp",
        "urn:xmpp:blocking",
        "urn:xmpp:carbons:2",
        "jabber:iq:version",
        "msgoffline",
        "urn:xmpp:time",
        "jabber:iq:last",
        "jabber:iq:private",
      ]),
    );
    expect(r.ping).toEqual({ answered: true });
    expect(r.version).toEqual({ name: "Switchboard" });
    expect(r.vcard).toEqual({ fn: "Alice Interop" });
    expect(r.blocking).toEqual({ blocklist: ["sli-alice@localhost"], bounce: "service-unavailable", after_unblock: "after unblock" });
    expect(r.direct_tls).toEqual({ bound: "sli-alice@localhost/laptop", body: "to the laptop" });
    expect(r.entity_time).toEqual({ tzo: expect.stringMatching(/^[+-]\d\d:\d\d$/), utc_ends_in_z: true, skew_below_30s: true });
    expect(r.uptime.seconds).toBeGreaterThanOrEqual(0);
    expect(r.last_activity).toEqual({ online_seconds: 0, idle_seconds: 42, offline_status: "gone fishing", offline_recent: true });
  }, 120_000);

  it("creates, configures, joins, talks in and moderates a room with slixmpp's xep_0045", async () => {
    const { code, stdout, stderr } = await run(
      ["127.0.0.1", String(ts.server.ports.c2s), "sli-owner@localhost", "owner secret", "sli-guest@localhost", "guest secret", "interop@conference.localhost"],
      mucScript,
    );
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(r.login).toEqual({ ok: true });
    expect(r.create).toEqual({ codes: ["110", "201"], affiliation: "owner", role: "moderator" });
    expect(r.configure).toEqual({ has_fields: true, name: "Interop Room", moderated: true });
    expect(r.join).toEqual({ role: "visitor", others: ["Owner"], subject_from: "interop@conference.localhost" });
    expect(r.voice).toEqual({ role: "participant" });
    expect(r.talk).toEqual({ from: "Guest", back_from: "Owner" });
    expect(r.subject).toEqual({ subject: "Interop", by: "Owner" });
    expect(r.affiliation).toEqual({ members: ["sli-guest@localhost"] });
    expect(r.kick).toEqual({ codes: ["110", "307"] });
    expect(r.destroy).toEqual({ gone: "item-not-found" });
  }, 120_000);

  it("fetches chat history with slixmpp's xep_0313, forwards and backwards, after a reload", async () => {
    const [a, b] = [ts.nodes[0]!, ts.nodes[ts.nodes.length - 1]!];
    const { code, stdout, stderr } = await run(
      ["127.0.0.1", String(a.ports.c2s), String(b.ports.c2s), "sli-carol@localhost", "carol secret", "sli-dave@localhost", "dave secret", "10"],
      mamScript,
    );
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout.trim().split("\n").pop()!);
    const sent = Array.from({ length: 10 }, (_, i) => `history ${i}`);
    expect(r.error, stderr).toBeUndefined();
    expect(r.stanza_id_by).toBe("sli-dave@localhost");
    expect(r.bob_history).toEqual(sent);
    expect(r.bob_complete).toBe("true");
    expect(r.bob_count).toBe("10");
    expect(r.bob_first_id_matches_stanza_id).toBe(true);
    expect(r.alice_reverse).toEqual([...sent].reverse());
  }, 120_000);
});
