import { describe, expect, it } from "vitest";
import { parseFrame } from "@switchboard/xml";
import { HeldStanzas, isUrgent } from "./hold.js";

const el = (s: string) => parseFrame(s);

describe("CSI: what is urgent, what is held", () => {
  it("writes IQs, errors, bodies, encrypted payloads, invitations, calls and subscription requests at once", () => {
    for (const s of [
      "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
      "<message type='error'><error type='cancel'/></message>",
      "<message><body>hi</body></message>",
      "<message><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>",
      "<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b'/></x></message>",
      "<message><x xmlns='jabber:x:conference' jid='room@muc'/></message>",
      "<message><propose xmlns='urn:xmpp:jingle-message:0' id='c'/></message>",
      "<presence type='subscribe'/>",
    ]) expect(isUrgent(el(s))).toBe(true);
    for (const s of [
      "<presence><show>away</show></presence>",
      "<presence type='unavailable'/>",
      "<message><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
      "<message><received xmlns='urn:xmpp:receipts' id='x'/></message>",
      "<message type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'/></message>",
    ]) expect(isUrgent(el(s))).toBe(false);
  });

  it("keeps the latest presence per sender, at its latest place, and the rest in order", () => {
    const held = new HeldStanzas();
    expect(held.hold(el("<presence from='a@x/1' id='p1'/>"))).toBe("queued");
    expect(held.hold(el("<message from='b@x/1' id='m1'/>"))).toBe("queued");
    expect(held.hold(el("<presence from='a@x/1' type='unavailable' id='p2'/>"))).toBe("coalesced");
    expect(held.hold(el("<presence from='c@x/1' id='p3'/>"))).toBe("queued");
    expect(held.take().map((s) => s.attrs.id)).toEqual(["m1", "p2", "p3"]);
    expect(held.size).toBe(0);
    expect(held.hold(el("<presence from='a@x/1' id='p4'/>"))).toBe("queued"); // forgotten after take()
  });
});
