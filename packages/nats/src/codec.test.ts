import { describe, expect, it } from "vitest";
import { headers as natsHeaders } from "nats";
import { HEADER_KIND, HEADER_SESSION, HEADER_STAMP, HEADER_TO, decodeEnvelope, encodeEnvelope } from "./codec.js";
import { InvalidBusEnvelopeError } from "./errors.js";

const xml = "<message to='bob@x/1'><body>hi</body></message>";
const bytes = new TextEncoder().encode(xml);

function stanzaHeaders(stamp?: string) {
  const h = natsHeaders();
  h.set(HEADER_KIND, "stanza");
  h.set(HEADER_TO, "bob@x/1");
  h.set(HEADER_SESSION, "s1");
  if (stamp !== undefined) h.set(HEADER_STAMP, stamp);
  return h;
}

describe("bus envelope codec: delivery receipts", () => {
  it("carries a stanza's numbering in one header, both ways", () => {
    const stamp = { origin: "edge-a", life: "L1fe", seq: 42, id: "L1fe.edge-b.42" };
    const encoded = encodeEnvelope({ kind: "stanza", to: "bob@x/1", sessionId: "s1", xml, stamp });
    expect(encoded.headers.get(HEADER_STAMP)).toBe("edge-a L1fe 42 L1fe.edge-b.42");
    expect(decodeEnvelope(encoded.data, encoded.headers)).toEqual({ kind: "stanza", to: "bob@x/1", sessionId: "s1", xml, stamp });
    const receipt = encodeEnvelope({ kind: "receipt", origin: "edge-b", life: "L1fe", upTo: 41 });
    expect(decodeEnvelope(receipt.data, receipt.headers)).toEqual({ kind: "receipt", origin: "edge-b", life: "L1fe", upTo: 41 });
  });

  it("delivers a stanza whose numbering is missing or garbled, unnumbered (as from the previous version)", () => {
    for (const bad of [undefined, "", "edge-a L1fe", "edge-a L1fe 0 id", "edge-a L1fe -3 id", "edge-a L1fe x id", "edge-a L1fe 7 id extra"]) {
      const env = decodeEnvelope(bytes, stanzaHeaders(bad));
      expect(env).toEqual({ kind: "stanza", to: "bob@x/1", sessionId: "s1", xml });
    }
  });

  it("refuses a receipt without origin, life or a whole number", () => {
    for (const [origin, life, seq] of [["", "L", "1"], ["edge-a", "", "1"], ["edge-a", "L", "1.5"], ["edge-a", "L", "-1"]]) {
      const h = natsHeaders();
      h.set(HEADER_KIND, "receipt");
      if (origin) h.set("sb-origin", origin);
      if (life) h.set("sb-life", life);
      h.set("sb-seq", seq!);
      expect(() => decodeEnvelope(new Uint8Array(), h)).toThrow(InvalidBusEnvelopeError);
    }
  });
});

describe("bus envelope codec: multicast", () => {
  it("refuses a multicast whose target list is missing or malformed, and carries a good one both ways", () => {
    for (const payload of ["<message/>", "not json\n<message/>", '[["only-a-jid"]]\n<message/>', '{"to":"x"}\n<message/>']) {
      const h = natsHeaders();
      h.set(HEADER_KIND, "multicast");
      expect(() => decodeEnvelope(new TextEncoder().encode(payload), h)).toThrow(InvalidBusEnvelopeError);
    }
    const env = { kind: "multicast" as const, targets: [{ to: "bob@x/1", sessionId: "s1" }], xml: "<message><body>a\nb</body></message>" };
    const encoded = encodeEnvelope(env);
    expect(decodeEnvelope(encoded.data, encoded.headers)).toEqual(env);
  });
});
