import { describe, expect, it } from "vitest";
import { parseStormKillArgs } from "./index.js";

describe("pnpm bench storm-kill options", () => {
  it("defaults to 15000 clients on both targets over 4 loaders, SCRAM only", () => {
    const o = parseStormKillArgs([]);
    expect(o).toMatchObject({ clients: 15_000, targets: ["switchboard-2edges", "ejabberd"], loaders: 4, auth: ["scram"], serverCore: 0, loaderCore: 1 });
    expect(parseStormKillArgs(["--clients", "100"]).loaders).toBe(2);
    expect(parseStormKillArgs(["--server-core", "none"]).serverCore).toBeUndefined();
  });

  it("names the option a bad value belongs to", () => {
    expect(() => parseStormKillArgs(["--targets", "prosody"])).toThrow(/--targets: expected switchboard-2edges and\/or ejabberd, got "prosody"/);
    expect(() => parseStormKillArgs(["--auth", "plain"])).toThrow(/--auth: expected scram and\/or fast/);
    expect(() => parseStormKillArgs(["--clients", "1.5"])).toThrow(/--clients: expected an integer/);
    expect(() => parseStormKillArgs(["--clients", "40000", "--loaders", "2"])).toThrow(/--loaders: 2 loaders would hold 20000 clients each, above 18000.*at least 3/);
    expect(() => parseStormKillArgs(["--backoff-base", "2000", "--backoff-max", "1000"])).toThrow(/--backoff-max: 1000 is below --backoff-base 2000/);
    expect(() => parseStormKillArgs(["--loader-core", "x"])).toThrow(/--loader-core: expected an integer from 0/);
    expect(() => parseStormKillArgs(["--bogus", "1"])).toThrow(/bogus/);
  });
});
