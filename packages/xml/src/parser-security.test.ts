// Hostile input: restricted XML (RFC 6120 §11.1), limits, malformed syntax, random bytes.
import { describe, expect, it } from "vitest";
import { HEADER, parse, record, streamError } from "./parser-test-helpers.js";
import { StreamParser } from "./parser.js";

describe("restricted XML (RFC 6120 §11.1)", () => {
  it("refuses a billion-laughs DTD before expanding anything", () => {
    const laughs =
      "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>" +
      `${HEADER}<message><body>&lol2;</body></message>`;
    const rec = parse(laughs);
    expect(rec.events).toEqual(["error:restricted-xml"]);
    expect(rec.errors[0]!.text).toContain("DOCTYPE");
  });

  it("refuses an external entity declaration", () => {
    const rec = parse(`<!DOCTYPE x [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>${HEADER}<m>&xxe;</m>`);
    expect(rec.errors[0]!.condition).toBe("restricted-xml");
    expect(streamError("<!ENTITY xxe SYSTEM 'file:///etc/passwd'>").condition).toBe("restricted-xml");
  });

  it("emits an error for an undefined entity instead of throwing", () => {
    const err = streamError("<message><body>&foo;</body></message>");
    expect(err.condition).toBe("restricted-xml");
    expect(err.text).toContain("&foo;");
    expect(streamError("<message id='&foo;'/>").condition).toBe("restricted-xml");
  });

  it("refuses malformed references", () => {
    expect(streamError("<m>a & b</m>").condition).toBe("not-well-formed");
    expect(streamError("<m>&#xD800;</m>").condition).toBe("not-well-formed");
    expect(streamError("<m>&#0;</m>").condition).toBe("not-well-formed");
    expect(streamError("<m>&#xZZ;</m>").condition).toBe("not-well-formed");
  });

  it("refuses comments, anywhere", () => {
    expect(streamError("<!-- hi -->").condition).toBe("restricted-xml");
    expect(streamError("<message><!-- hi --></message>").text).toContain("comments");
    expect(parse(`<!-- x -->${HEADER}`).errors[0]!.condition).toBe("restricted-xml");
  });

  it("refuses processing instructions, and an XML declaration not at the very start", () => {
    expect(streamError("<?php echo 1 ?>").condition).toBe("restricted-xml");
    expect(streamError("<?xml version='1.0'?>").condition).toBe("restricted-xml");
    expect(parse(` <?xml version='1.0'?>${HEADER}`).errors[0]!.condition).toBe("restricted-xml");
    expect(parse(`<?xml-stylesheet href='x'?>${HEADER}`).errors[0]!.condition).toBe("restricted-xml");
  });

  it("refuses a declared encoding other than UTF-8", () => {
    expect(parse(`<?xml version='1.0' encoding='ISO-8859-1'?>${HEADER}`).errors[0]!.condition).toBe("unsupported-encoding");
  });
});

describe("well-formedness", () => {
  it.each([
    ["mismatched end tag", "<message><body></message>", "mismatched end tag"],
    ["stray end tag", "</message>", "unexpected end tag"],
    ["duplicate attribute", "<m a='1' a='2'/>", "duplicate attribute"],
    ["'<' in attribute value", "<m a='<'/>", "malformed tag"],
    ["unquoted attribute", "<m a=1/>", "malformed tag"],
    ["missing space between attributes", "<m a='1'b='2'/>", "malformed tag"],
    ["bad name", "<1m/>", "malformed tag"],
    ["'<' inside a tag", "<m <n/>", "'<' inside a tag"],
    ["control character in text", "<m>\u0001</m>", "illegal XML character"],
    ["control character in attribute", "<m a='\u0001'/>", "illegal XML character"],
    ["']]>' in text", "<m>]]></m>", "']]>'"],
    ["malformed '<!'", "<m><!x></m>", "malformed markup"],
  ])("%s → not-well-formed", (_what, body, text) => {
    const err = streamError(body);
    expect(err.condition).toBe("not-well-formed");
    expect(err.text).toContain(text);
  });

  it("requires the stream header first", () => {
    expect(parse("<message/>").errors[0]!.text).toContain("expected a stream header");
    expect(parse("hello").errors[0]!.condition).toBe("not-well-formed");
    expect(parse("<stream:stream xmlns:stream='urn:wrong'>").errors[0]!.condition).toBe("invalid-namespace");
  });

  it("refuses invalid UTF-8 and unpaired surrogates", () => {
    const bad = Buffer.concat([Buffer.from(`${HEADER}<m>`), Buffer.of(0xc3, 0x28), Buffer.from("</m>")]);
    expect(parse(bad).errors[0]!.condition).toBe("unsupported-encoding");
    expect(parse(`${HEADER}<m>\uD800x</m>`).errors[0]!.condition).toBe("not-well-formed");
  });
});

describe("limits", () => {
  const stanzaOf = (bytes: number): string => {
    const open = "<message><body>";
    const close = "</body></message>";
    return open + "x".repeat(bytes - open.length - close.length) + close;
  };

  it("accepts a stanza of exactly maxStanzaBytes and refuses one byte more", () => {
    expect(parse(HEADER + stanzaOf(100), { maxStanzaBytes: 100 }).events).toEqual(["start", "stanza:message"]);
    const err = streamError(stanzaOf(101), { maxStanzaBytes: 100 });
    expect(err.condition).toBe("policy-violation");
    expect(err.text).toBe("stanza exceeds 100 bytes");
  });

  it("counts UTF-8 bytes, not characters", () => {
    const body = (n: number) => `<m>${"é".repeat(n)}</m>`; // 7 + 2n bytes
    expect(parse(HEADER + body(10), { maxStanzaBytes: 27 }).errors).toEqual([]);
    expect(streamError(body(11), { maxStanzaBytes: 28 }).condition).toBe("policy-violation");
  });

  it("refuses an oversized stanza before it is complete, with the default limit", () => {
    const rec = record();
    rec.parser.write(`${HEADER}<message><body>`);
    const chunk = "x".repeat(65536);
    for (let i = 0; i < 5 && rec.errors.length === 0; i++) rec.parser.write(chunk);
    expect(rec.errors[0]!.text).toBe("stanza exceeds 262144 bytes");
  });

  it("bounds a huge start tag trickled in small chunks", () => {
    const rec = record({ maxStanzaBytes: 1000 });
    rec.parser.write(`${HEADER}<message to='`);
    for (let i = 0; i < 200 && rec.errors.length === 0; i++) rec.parser.write("aaaaaaaaaa");
    expect(rec.errors[0]!.condition).toBe("policy-violation");
  });

  it("enforces maxDepth with the stanza at depth 1", () => {
    const nest = (depth: number) => "<a>".repeat(depth) + "</a>".repeat(depth);
    expect(parse(HEADER + nest(3), { maxDepth: 3 }).events).toEqual(["start", "stanza:a"]);
    const err = streamError(nest(4), { maxDepth: 3 });
    expect(err.condition).toBe("policy-violation");
    expect(err.text).toContain("depth 3");
    expect(parse(HEADER + "<a>".repeat(100000)).errors[0]!.condition).toBe("policy-violation");
  });

  it("bounds the stream header and the text between stanzas", () => {
    const longHeader = `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' x='${"y".repeat(5000)}'>`;
    expect(parse(longHeader).errors[0]!.text).toBe("stream header exceeds 4096 bytes");
    expect(parse(HEADER + " ".repeat(4096) + "<presence/>").errors).toEqual([]);
    expect(streamError(" ".repeat(4097) + "<presence/>").text).toBe("text between stanzas exceeds 4096 bytes");
    const rec = record({ maxHeaderBytes: 200 });
    rec.parser.write(HEADER);
    for (let i = 0; i < 10; i++) rec.parser.write(" ".repeat(100)); // never a stanza to reset the count
    expect(rec.errors[0]!.text).toBe("text between stanzas exceeds 200 bytes");
  });

  it("resets the gap count after each stanza", () => {
    const rec = record({ maxHeaderBytes: 150 });
    rec.parser.write(HEADER);
    for (let i = 0; i < 20; i++) rec.parser.write(`${" ".repeat(100)}<presence/>`);
    expect(rec.errors).toEqual([]);
    expect(rec.stanzas).toHaveLength(20);
  });
});

describe("fuzz", () => {
  // Deterministic PRNG so a failure is reproducible.
  function prng(seed: number): () => number {
    return () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
  }
  const ALPHABET = Buffer.from("<>/='\"&;#x!?[]-: \nabmsé", "utf8");

  it("never throws on random bytes or random XML-ish soup", () => {
    const rand = prng(42);
    for (let round = 0; round < 2000; round++) {
      const parser = new StreamParser({ maxStanzaBytes: 512, maxHeaderBytes: 256, maxDepth: 8 });
      const soup = round % 2 === 0;
      if (soup) parser.write(HEADER);
      for (let chunk = 0; chunk < 8; chunk++) {
        const len = Math.floor(rand() * 64);
        const bytes = Buffer.alloc(len);
        for (let i = 0; i < len; i++) {
          bytes[i] = soup ? ALPHABET[Math.floor(rand() * ALPHABET.length)]! : Math.floor(rand() * 256);
        }
        expect(() => parser.write(bytes)).not.toThrow();
      }
      // internal-server-error would mean an unexpected exception inside the parser.
      expect(parser.error?.condition).not.toBe("internal-server-error");
    }
  });
});
