/**
 * How a room writes to its occupants: one stanza to one session, or one stanza to many sessions
 * at once (Host.deliverMany: a bus message per edge, not per occupant). Sessions are found in the
 * registry, whose cluster adapter caches each user's sessions on every node and drops them on
 * every change (a rebind, a resumption elsewhere): no Redis round trip, never stale for long. A
 * write that fails means the session is gone: `gone` takes it out of the room.
 */
import type { Element } from "@switchboard/xml";
import { addressedCopy, delivered, type Host, type SessionInfo } from "@switchboard/core";
import type { Room } from "./room.js";

export class RoomOutbox {
  constructor(
    private readonly host: Host,
    private readonly gone: (room: Room, full: string, stanza: Element) => void,
  ) {}

  /** To one occupant's session, or an invitee; other domains go through the router. */
  async send(room: Room, stanza: Element): Promise<void> {
    const to = stanza.attrs.to!;
    if (!this.host.isLocalDomain(domainOf(to))) {
      await this.host.router.route(stanza);
      return;
    }
    const info = await this.host.registry.get(to);
    if (!info || !delivered(await this.host.deliver(info, stanza))) this.gone(room, to, stanza);
  }

  /** One stanza (no 'to') to many sessions. */
  async sendMany(room: Room, stanza: Element, fulls: readonly string[]): Promise<void> {
    const targets: SessionInfo[] = [];
    for (const full of fulls) {
      if (!this.host.isLocalDomain(domainOf(full))) {
        await this.host.router.route(addressedCopy(stanza, full));
        continue;
      }
      const info = await this.host.registry.get(full);
      if (info) targets.push(info);
      else this.gone(room, full, stanza);
    }
    for (const [full, outcome] of await this.host.deliverMany(targets, stanza)) {
      if (!delivered(outcome)) this.gone(room, full, stanza);
    }
  }
}

function domainOf(jid: string): string {
  const at = jid.indexOf("@");
  const slash = jid.indexOf("/", at + 1);
  return jid.slice(at + 1, slash === -1 ? undefined : slash);
}
