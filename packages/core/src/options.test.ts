import { describe, expect, it } from "vitest";
import { InvalidValue, boolean, integer, option, resolveOptions, seconds, uriList } from "./options.js";

describe("option values", () => {
  it("want typed values from YAML and code, and accept the string forms from the environment", () => {
    expect(integer(1, 10)(5, "typed")).toBe(5);
    expect(() => integer(1, 10)("5", "typed")).toThrow(/YAML number/);
    expect(integer(1, 10)(" 5 ", "text")).toBe(5);
    expect(() => integer(1, 10)("11", "text")).toThrow(/from 1 to 10/);
    expect(boolean(true, "typed")).toBe(true);
    expect(() => boolean("yes", "typed")).toThrow(/true or false/);
    expect(boolean("off", "text")).toBe(false);
    expect(seconds(0, 60)(0.5, "typed")).toBe(0.5);
    expect(seconds(0, 60)("1.25", "text")).toBe(1.25);
    expect(() => seconds(0, 60)(-1, "typed")).toThrow(InvalidValue);
    expect(uriList(["mailto:a@b", "xmpp:c@d"], "typed")).toEqual(["mailto:a@b", "xmpp:c@d"]);
    expect(() => uriList("not a uri", "text")).toThrow(/scheme/);
  });
});

describe("module option schemas", () => {
  const schema = {
    keepaliveSeconds: option.seconds(0, 3600, 0, "ping silence"),
    maxItems: option.integer(1, 100, 10, "items"),
    name: option.string("x", "a name"),
  };

  it("resolve to the defaults, overlaid with what is given, each value checked", () => {
    expect(resolveOptions("ping", schema)).toEqual({ keepaliveSeconds: 0, maxItems: 10, name: "x" });
    expect(resolveOptions("ping", schema, { maxItems: 20, name: undefined })).toEqual({ keepaliveSeconds: 0, maxItems: 20, name: "x" });
  });

  it("name the module and option of a bad or unknown value", () => {
    expect(() => resolveOptions("ping", schema, { maxItems: 0 })).toThrow(/ping.maxItems must be an integer from 1 to 100, got 0/);
    expect(() => resolveOptions("ping", schema, { intervalSeconds: 5 })).toThrow(/module ping has no option intervalSeconds \(it has: keepaliveSeconds, maxItems, name\)/);
  });
});
