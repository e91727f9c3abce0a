import { describe, expect, it } from "vitest";
import { parseFrame } from "@switchboard/xml";
import { storability } from "./storable.js";

const of = (xml: string) => storability(parseFrame(xml));
const CS = "xmlns='http://jabber.org/protocol/chatstates'";
const HINTS = "xmlns='urn:xmpp:hints'";

describe("what an undeliverable message becomes (storable.ts)", () => {
  it.each([
    ["a body", "<message type='chat'><body>hi</body></message>"],
    ["a subject", "<message><subject>plans</subject></message>"],
    ["a body with a chat state", `<message type='chat'><body>hi</body><active ${CS}/></message>`],
    ["a receipt (XEP-0184)", "<message><received xmlns='urn:xmpp:receipts' id='a'/></message>"],
    ["a chat marker (XEP-0333)", "<message type='chat'><displayed xmlns='urn:xmpp:chat-markers:0' id='a'/></message>"],
    ["a reaction (XEP-0444)", "<message type='chat'><reactions xmlns='urn:xmpp:reactions:0' id='a'/></message>"],
    ["a retraction (XEP-0424)", "<message type='chat'><retract xmlns='urn:xmpp:message-retract:1' id='a'/></message>"],
    ["an OMEMO payload", "<message type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>"],
    ["a direct MUC invitation (XEP-0249)", "<message><x xmlns='jabber:x:conference' jid='room@muc'/></message>"],
    ["an out-of-band link", "<message><x xmlns='jabber:x:oob'><url>https://x</url></x></message>"],
    ["a chat state with the <store/> hint", `<message type='chat'><composing ${CS}/><store ${HINTS}/></message>`],
  ])("stores %s", (_what, xml) => expect(of(xml)).toBe("store"));

  it.each([
    ["composing alone", `<message type='chat'><composing ${CS}/></message>`],
    ["gone with a thread and an origin-id", `<message type='chat'><gone ${CS}/><thread>t</thread><origin-id xmlns='urn:xmpp:sid:0' id='x'/></message>`],
    ["a chat state with no-store", `<message type='chat'><paused ${CS}/><no-store ${HINTS}/></message>`],
  ])("discards %s quietly", (_what, xml) => expect(of(xml)).toBe("transient"));

  it.each([
    ["a body with <no-store/>", `<message type='chat'><body>x</body><no-store ${HINTS}/></message>`],
    ["a body with <no-permanent-store/>", `<message type='chat'><body>x</body><no-permanent-store ${HINTS}/></message>`],
    ["an unknown payload", "<message type='chat'><x xmlns='urn:example:thing'/></message>"],
    ["an empty message", "<message type='chat'/>"],
    ["groupchat", "<message type='groupchat'><body>x</body></message>"],
    ["headline", "<message type='headline'><body>x</body></message>"],
    ["an error", "<message type='error'><body>x</body></message>"],
  ])("neither stores nor discards %s (the sender is told)", (_what, xml) => expect(of(xml)).toBe("none"));
});
