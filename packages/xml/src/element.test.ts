import { describe, expect, it } from "vitest";
import { Element, escapeXml, escapeXmlText, serialize, x } from "./element.js";

describe("x()", () => {
  it("builds an ltx Element with attributes and nested children", () => {
    const el = x("iq", { type: "get", id: "1" }, x("query", { xmlns: "jabber:iq:roster" }));
    expect(el).toBeInstanceOf(Element);
    expect(serialize(el)).toBe('<iq type="get" id="1"><query xmlns="jabber:iq:roster"/></iq>');
    expect(el.getChild("query")?.parent).toBe(el);
  });

  it("skips null, undefined, false and flattens arrays", () => {
    const items = ["a", "b"].map((n) => x("item", { name: n }));
    const el = x("list", null, null, undefined, false, items, [x("end"), [x("deep")]], "text");
    expect(serialize(el)).toBe('<list><item name="a"/><item name="b"/><end/><deep/>text</list>');
  });

  it("omits attributes whose value is undefined and stringifies numbers", () => {
    expect(serialize(x("p", { a: undefined, b: 2 }))).toBe('<p b="2"/>');
  });

  it("escapes attribute values and text when serializing", () => {
    expect(serialize(x("body", { q: `a"b'c<&>` }, "1 < 2 & 3 > 2"))).toBe(
      '<body q="a&quot;b&apos;c&lt;&amp;&gt;">1 &lt; 2 &amp; 3 &gt; 2</body>',
    );
  });
});

describe("escapeXml", () => {
  it("escapes all five special characters for attributes, three for text", () => {
    expect(escapeXml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&apos;");
    expect(escapeXmlText(`&<>"'`)).toBe(`&amp;&lt;&gt;"'`);
  });
});
