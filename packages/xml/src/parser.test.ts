import { describe, expect, it } from "vitest";
import { HEADER, parse, record } from "./parser-test-helpers.js";
import { StreamParser } from "./parser.js";

const BODY =
  "<message to='romeo@example.net' type='chat' id='m1'><body>Wherefore art thou, Romeo? é ☃ 😀</body></message>" +
  "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>" +
  "<presence/>";

describe("StreamParser: stream structure", () => {
  it("emits the header, each top-level element and the end", () => {
    const rec = parse(`<?xml version='1.0' encoding='UTF-8'?>${HEADER}${BODY}</stream:stream>`);
    expect(rec.events).toEqual(["start", "stanza:message", "stanza:iq", "stanza:presence", "end"]);
    expect(rec.headers[0]).toEqual({
      name: "stream:stream",
      attrs: {
        xmlns: "jabber:client",
        "xmlns:stream": "http://etherx.jabber.org/streams",
        to: "example.com",
        version: "1.0",
      },
    });
    expect(rec.stanzas[0]!.getChildText("body")).toBe("Wherefore art thou, Romeo? é ☃ 😀");
  });

  it("keeps explicit xmlns, lets children inherit it, and gives stanzas no inherited default", () => {
    const rec = parse(`${HEADER}${BODY}`);
    const iq = rec.stanzas[1]!;
    expect(iq.parent).toBeNull();
    expect(iq.getNS()).toBeUndefined(); // the c2s layer decides the default namespace
    const query = iq.getChild("query", "jabber:iq:roster");
    expect(query?.attrs.xmlns).toBe("jabber:iq:roster");
    const nested = parse(`${HEADER}<iq><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>`).stanzas[0]!;
    expect(nested.getChild("query")!.getChild("item")!.getNS()).toBe("jabber:iq:roster");
  });

  it("resolves the stream prefix on top-level stream:* elements", () => {
    const rec = parse(`${HEADER}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`);
    const features = rec.stanzas[0]!;
    expect(features.is("features", "http://etherx.jabber.org/streams")).toBe(true);
  });

  it("refuses an undeclared prefix", () => {
    const rec = parse(`${HEADER}<foo:bar/>`);
    expect(rec.errors[0]?.condition).toBe("bad-namespace-prefix");
  });

  it("decodes attribute escapes and round-trips them through serialization", () => {
    const rec = parse(`${HEADER}<message id='a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;' x="it's"/>`);
    const msg = rec.stanzas[0]!;
    expect(msg.attrs.id).toBe(`a&b <c> "d" 'e'`);
    expect(msg.attrs.x).toBe("it's");
    const again = parse(HEADER + msg.toString()).stanzas[0]!;
    expect(again.attrs).toEqual(msg.attrs);
  });

  it("decodes numeric character references in text and attributes", () => {
    const rec = parse(`${HEADER}<message id='&#x41;&#66;'><body>&#x1F600; &#233;&#10;</body></message>`);
    expect(rec.stanzas[0]!.attrs.id).toBe("AB");
    expect(rec.stanzas[0]!.getChildText("body")).toBe("😀 é\n");
  });

  it("normalises literal newlines in attribute values to spaces (XML 1.0 §3.3.3)", () => {
    expect(parse(`${HEADER}<m a='x\ny\tz'/>`).stanzas[0]!.attrs.a).toBe("x y z");
  });

  it("accepts CDATA sections as text", () => {
    const rec = parse(`${HEADER}<message><body><![CDATA[<b>&amp;</b>]]> tail</body></message>`);
    expect(rec.stanzas[0]!.getChildText("body")).toBe("<b>&amp;</b> tail");
  });

  it("ignores whitespace keepalives between stanzas", () => {
    const rec = record();
    rec.parser.write(HEADER);
    for (let i = 0; i < 100; i++) rec.parser.write(" \n\t\r");
    rec.parser.write("<presence/>");
    expect(rec.events).toEqual(["start", "stanza:presence"]);
  });

  it("accepts a self-closing stream header as start and end", () => {
    const rec = parse("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
    expect(rec.events).toEqual(["start", "end"]);
  });

  it("ignores writes after the stream end", () => {
    const rec = parse(`${HEADER}</stream:stream><presence/>`);
    rec.parser.write("<message/>");
    expect(rec.events).toEqual(["start", "end"]);
  });

  it("restarts from scratch on reset() after the header (RFC 6120 §4.3.3)", () => {
    const rec = record();
    rec.parser.write(`${HEADER}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
    rec.parser.reset();
    rec.parser.write(`<?xml version='1.0'?>${HEADER}<iq type='set' id='b'/>`);
    expect(rec.events).toEqual(["start", "stanza:auth", "start", "stanza:iq"]);
  });

  it("drops the rest of a chunk when reset() is called from a stanza listener", () => {
    // The STARTTLS injection class of bugs: plaintext after <starttls/> must not reach the new stream.
    const rec = record();
    rec.parser.on("stanza", (el) => {
      if (el.name === "starttls") rec.parser.reset();
    });
    rec.parser.write(`${HEADER}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq id='injected'/>`);
    rec.parser.write(`${HEADER}<iq id='real'/>`);
    expect(rec.stanzas.map((s) => s.attrs.id ?? s.name)).toEqual(["starttls", "real"]);
  });

  it("tells each stanza's size in bytes from its '<' to the end of its closing tag, across chunks and with multi-byte text", () => {
    const rec = record();
    const sizes: number[] = [];
    rec.parser.on("stanza", (_el, bytes) => sizes.push(bytes));
    const first = "<message id='a'><body>h\u00e9llo \u{1F600}</body></message>";
    const second = "<presence/>";
    const third = "<iq type='get' id='q'><query xmlns='jabber:iq:roster'/></iq>";
    const wire = Buffer.from(`${HEADER}${first} \n${second}${third}`);
    // cut inside the emoji and inside a tag: sizes count bytes, not characters or chunks
    const cuts = [HEADER.length + 30, HEADER.length + 45, wire.length - 10];
    let at = 0;
    for (const cut of [...cuts, wire.length]) {
      rec.parser.write(wire.subarray(at, cut));
      at = cut;
    }
    expect(rec.stanzas.map((el) => el.name)).toEqual(["message", "presence", "iq"]);
    expect(sizes).toEqual([Buffer.byteLength(first), Buffer.byteLength(second), Buffer.byteLength(third)]);
  });

  it("recovers after an error only through reset()", () => {
    const rec = record();
    rec.parser.write(`${HEADER}<a></b>`);
    rec.parser.write("<presence/>");
    expect(rec.events).toEqual(["start", "error:not-well-formed"]);
    rec.parser.reset();
    rec.parser.write(`${HEADER}<presence/>`);
    expect(rec.events.slice(2)).toEqual(["start", "stanza:presence"]);
  });
});

describe("StreamParser: chunking", () => {
  const input = `<?xml version='1.0'?>${HEADER}${BODY}<message><body>a &amp; b<![CDATA[ ]]]]></body></message></stream:stream>`;
  const expected = parse(input);

  it("gives the same result for every split point, as bytes and as text", () => {
    const bytes = Buffer.from(input, "utf8");
    for (let cut = 1; cut < bytes.length; cut++) {
      const rec = record();
      rec.parser.write(bytes.subarray(0, cut));
      rec.parser.write(bytes.subarray(cut));
      expect(rec.events, `split at byte ${cut}`).toEqual(expected.events);
      expect(rec.stanzas.map(String)).toEqual(expected.stanzas.map(String));
    }
    for (let cut = 1; cut < input.length; cut++) {
      const rec = record();
      rec.parser.write(input.slice(0, cut));
      rec.parser.write(input.slice(cut));
      expect(rec.stanzas.map(String), `split at char ${cut}`).toEqual(expected.stanzas.map(String));
    }
  });

  it("handles one byte per write", () => {
    const rec = record();
    for (const byte of Buffer.from(input, "utf8")) rec.parser.write(Buffer.of(byte));
    expect(rec.events).toEqual(expected.events);
    expect(rec.stanzas.map(String)).toEqual(expected.stanzas.map(String));
  });

  it("reassembles multi-byte UTF-8 split across chunks", () => {
    const rec = record();
    const bytes = Buffer.from(`${HEADER}<m>😀é</m>`, "utf8");
    const emoji = bytes.indexOf(Buffer.from("😀"));
    rec.parser.write(bytes.subarray(0, emoji + 1));
    rec.parser.write(bytes.subarray(emoji + 1, emoji + 3));
    rec.parser.write(bytes.subarray(emoji + 3, emoji + 5));
    rec.parser.write(bytes.subarray(emoji + 5));
    expect(rec.stanzas[0]!.getText()).toBe("😀é");
  });

  it("merges text arriving in several chunks into one text node", () => {
    const rec = record();
    rec.parser.write(`${HEADER}<m>abc`);
    rec.parser.write("def");
    rec.parser.write("</m>");
    expect(rec.stanzas[0]!.children).toEqual(["abcdef"]);
  });
});

describe("StreamParser: never throws", () => {
  it("has no listener for 'error' and still does not throw", () => {
    const parser = new StreamParser();
    expect(() => parser.write(`${HEADER}&foo;<!DOCTYPE x>`)).not.toThrow();
    expect(parser.error?.condition).toBe("restricted-xml");
  });

  it("turns an exception from a listener into internal-server-error", () => {
    const rec = record();
    rec.parser.on("stanza", () => {
      throw new TypeError("bug in a listener");
    });
    expect(() => rec.parser.write(`${HEADER}<presence/>`)).not.toThrow();
    expect(rec.errors[0]?.condition).toBe("internal-server-error");
    expect(rec.errors[0]?.cause).toBeInstanceOf(TypeError);
  });
});
