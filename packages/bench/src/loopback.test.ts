import { describe, expect, it } from "vitest";
import { parseRunArgs } from "./cli-args.js";
import { isLoopbackAddress } from "./loopback.js";

describe("loopback guard", () => {
  it("accepts 127.0.0.0/8 and ::1 only", () => {
    for (const ok of ["127.0.0.1", "127.3.2.1", "::1"]) expect(isLoopbackAddress(ok)).toBe(true);
    for (const bad of ["10.0.0.1", "0.0.0.0", "128.0.0.1", "::", "example.org", "localhost", "::ffff:10.0.0.1"]) expect(isLoopbackAddress(bad)).toBe(false);
  });

  it("makes `bench run` refuse a remote host, and pins localhost to 127.0.0.1", () => {
    expect(() => parseRunArgs(["--host", "192.168.1.5", "--scenario", "idle", "--users", "3"])).toThrow(/loopback/);
    const cmd = parseRunArgs(["--host", "localhost", "--port", "5222,6222", "--scenario", "chat", "--users", "100", "--rates", "1000,2000", "--step", "5"]);
    expect(cmd.target.endpoints).toEqual([{ host: "127.0.0.1", port: 5222 }, { host: "127.0.0.1", port: 6222 }]);
    expect(cmd.spec).toEqual({ scenario: "chat", users: 100, rates: [1000, 2000], stepSeconds: 5 });
  });
});
