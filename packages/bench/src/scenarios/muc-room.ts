/**
 * The client side of a XEP-0045 room for the muc scenario: entering (§7.2.1, with
 * `<history maxstanzas='0'/>`, §7.2.15), recognising one's own presence by status 110 (§7.2.2),
 * and unlocking a room one has just created as an instant room (§10.1.2: an empty submitted
 * owner form). Nothing else the room sends (the other occupants' presence, the subject) counts.
 */
import { escapeXml, type Element } from "@switchboard/xml";
import type { LoadClient } from "../client.js";

const NS_MUC = "http://jabber.org/protocol/muc";
const NS_MUC_USER = `${NS_MUC}#user`;
const NS_MUC_OWNER = `${NS_MUC}#owner`;
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const CREATE_IQ_ID = "muc-bench-create";

/** A room that could not be set up or entered: the target does not serve MUC as the bench needs. */
export class MucJoinError extends Error {
  override name = "MucJoinError";
  constructor(
    /** the stanza error condition, or "timeout" */
    readonly condition: string,
    message: string,
  ) {
    super(message);
  }
}

/** The defined condition of a stanza error (RFC 6120 §8.3.3), or "undefined-condition". */
export function stanzaErrorCondition(el: Element): string {
  const error = el.getChild("error");
  const condition = error?.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === NS_STANZAS);
  return condition?.name ?? "undefined-condition";
}

/** One connection's place in the room: its nick, and whether the room has let it in. */
export class RoomOccupant {
  joined = false;
  /** index among the joined occupants (for per-occupant counts), set once joined */
  slot = -1;
  private waiter: { resolve(created: boolean): void; reject(err: MucJoinError): void } | undefined;
  private formWaiter: { resolve(): void; reject(err: MucJoinError): void } | undefined;

  constructor(
    readonly client: LoadClient,
    readonly room: string,
    readonly nick: string,
  ) {}

  get occupantJid(): string {
    return `${this.room}/${this.nick}`;
  }

  /** Presence and IQs from the room; everything else is the caller's. */
  onStanza(el: Element): void {
    if (el.name === "presence") this.onPresence(el);
    else if (el.name === "iq" && el.attrs.id === CREATE_IQ_ID && this.formWaiter) {
      const w = this.formWaiter;
      this.formWaiter = undefined;
      if (el.attrs.type === "result") w.resolve();
      else w.reject(new MucJoinError(stanzaErrorCondition(el), `the instant-room form for ${this.room} was refused: <${stanzaErrorCondition(el)}/>`));
    }
  }

  /** Sends the join and resolves on the self-presence: true when this join created the room (status 201). */
  join(timeoutMs: number): Promise<boolean> {
    return this.wait(timeoutMs, `join of ${this.occupantJid}`, (resolve, reject) => {
      this.waiter = { resolve, reject };
      this.client.sendStanza(`<presence to='${escapeXml(this.occupantJid)}'><x xmlns='${NS_MUC}'><history maxstanzas='0'/></x></presence>`);
    });
  }

  /** §10.1.2: accepts the default configuration; the room is unlocked once this resolves. */
  submitInstantRoomForm(timeoutMs: number): Promise<void> {
    return this.wait(timeoutMs, `instant-room form of ${this.room}`, (resolve, reject) => {
      this.formWaiter = { resolve: () => resolve(), reject };
      this.client.sendStanza(`<iq type='set' id='${CREATE_IQ_ID}' to='${escapeXml(this.room)}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    });
  }

  private onPresence(el: Element): void {
    if (el.attrs.from !== this.occupantJid || !this.waiter) return;
    const w = this.waiter;
    if (el.attrs.type === "error") {
      this.waiter = undefined;
      const condition = stanzaErrorCondition(el);
      w.reject(new MucJoinError(condition, `${this.room} refused ${this.nick}: <${condition}/>${errorText(el)}`));
      return;
    }
    const statuses = (el.getChild("x", NS_MUC_USER)?.getChildren("status") ?? []).map((s) => s.attrs.code);
    if (!statuses.includes("110")) return;
    this.waiter = undefined;
    this.joined = true;
    w.resolve(statuses.includes("201"));
  }

  private wait<T>(timeoutMs: number, what: string, start: (resolve: (v: T) => void, reject: (err: MucJoinError) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.formWaiter = undefined;
        reject(new MucJoinError("timeout", `${what}: no answer after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = <A extends unknown[]>(f: (...a: A) => void) => (...a: A) => {
        clearTimeout(timer);
        f(...a);
      };
      start(done(resolve), done(reject));
    });
  }
}

function errorText(el: Element): string {
  const text = el.getChild("error")?.getChildText("text", NS_STANZAS);
  return text ? ` (${text})` : "";
}
