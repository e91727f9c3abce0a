import { describe, expect, it } from "vitest";
import { StreamError } from "./errors.js";
import { NS_FRAMING } from "./ns.js";
import { parseFrame } from "./parser.js";

function frameError(text: string, limits?: Parameters<typeof parseFrame>[1]): StreamError {
  try {
    parseFrame(text, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(StreamError);
    return err as StreamError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

describe("parseFrame (RFC 7395 framing)", () => {
  it("parses <open/>, a stanza and <close/>", () => {
    const open = parseFrame(`<open xmlns='${NS_FRAMING}' to='example.com' version='1.0'/>`);
    expect(open.is("open", NS_FRAMING)).toBe(true);
    expect(open.attrs.to).toBe("example.com");
    const msg = parseFrame("<message to='a@b'><body>hi &amp; bye</body></message>");
    expect(msg.getChildText("body")).toBe("hi & bye");
    expect(parseFrame(` <close xmlns='${NS_FRAMING}'/>\n`).name).toBe("close");
  });

  it("refuses more than one element, trailing text, or an incomplete element", () => {
    expect(frameError("<a/><b/>").text).toContain("more than one element");
    expect(frameError("<a/>junk").text).toContain("text outside");
    expect(frameError("<a><b/>").text).toContain("incomplete");
    expect(frameError("").text).toContain("incomplete");
    expect(frameError("<a/><").text).toContain("incomplete");
  });

  it("applies the same restrictions as the stream parser", () => {
    expect(frameError("<!DOCTYPE a><a/>").condition).toBe("restricted-xml");
    expect(frameError("<a>&foo;</a>").condition).toBe("restricted-xml");
    expect(frameError("<a><!-- c --></a>").condition).toBe("restricted-xml");
    expect(frameError("<a></b>").condition).toBe("not-well-formed");
    expect(frameError("<a><b><c/></b></a>", { maxDepth: 2 }).condition).toBe("policy-violation");
  });

  it("accepts a frame of exactly maxStanzaBytes and refuses one byte more", () => {
    const frame = (n: number) => `<a>${"x".repeat(n - 7)}</a>`;
    expect(parseFrame(frame(64), { maxStanzaBytes: 64 }).getText()).toHaveLength(57);
    const err = frameError(frame(65), { maxStanzaBytes: 64 });
    expect(err.condition).toBe("policy-violation");
    expect(err.text).toBe("stanza exceeds 64 bytes");
    expect(frameError(`<a>${"é".repeat(30)}</a>`, { maxStanzaBytes: 64 }).condition).toBe("policy-violation");
  });
});
