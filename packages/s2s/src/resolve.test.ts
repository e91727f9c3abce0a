import { describe, expect, it } from "vitest";
import { RemoteResolver, ResolveError, type SrvRecord } from "./resolve.js";

/** a DNS that answers from a table and records every query */
function fakeDns(table: Record<string, SrvRecord[] | Error>) {
  const asked: string[] = [];
  return {
    asked,
    async resolveSrv(name: string): Promise<SrvRecord[]> {
      asked.push(name);
      const answer = table[name];
      if (answer instanceof Error) throw answer;
      if (!answer) throw Object.assign(new Error("queryNotFound"), { code: "ENOTFOUND" });
      return answer;
    },
  };
}

describe("remote server resolution", () => {
  it("uses a static route without any DNS query", async () => {
    const dns = fakeDns({});
    const resolver = new RemoteResolver({ "example.org": "10.0.0.5:5270", "v6.example.org": "[::1]:5269" }, dns);
    expect(await resolver.resolve("example.org")).toEqual([{ host: "10.0.0.5", port: 5270, directTls: false }]);
    expect(await resolver.resolve("v6.example.org")).toEqual([{ host: "::1", port: 5269, directTls: false }]);
    expect(dns.asked).toEqual([]);
  });

  it("orders _xmpps-server and _xmpp-server records by priority and weight, direct TLS first on a tie", async () => {
    const dns = fakeDns({
      "_xmpps-server._tcp.example.org": [{ name: "tls.example.org", port: 5270, priority: 10, weight: 0 }],
      "_xmpp-server._tcp.example.org": [
        { name: "b.example.org", port: 5269, priority: 20, weight: 0 },
        { name: "a.example.org", port: 5269, priority: 10, weight: 0 },
      ],
    });
    const got = await new RemoteResolver({}, dns).resolve("example.org");
    expect(got).toEqual([
      { host: "tls.example.org", port: 5270, directTls: true },
      { host: "a.example.org", port: 5269, directTls: false },
      { host: "b.example.org", port: 5269, directTls: false },
    ]);
  });

  it("falls back to the domain on 5269 without SRV records, and refuses a '.' target", async () => {
    expect(await new RemoteResolver({}, fakeDns({})).resolve("example.org")).toEqual([{ host: "example.org", port: 5269, directTls: false }]);
    const none = fakeDns({ "_xmpp-server._tcp.example.net": [{ name: ".", port: 0, priority: 0, weight: 0 }] });
    await expect(new RemoteResolver({}, none).resolve("example.net")).rejects.toBeInstanceOf(ResolveError);
  });

  it("never queries DNS for a special-use test domain", async () => {
    const dns = fakeDns({});
    await expect(new RemoteResolver({}, dns).resolve("nowhere.test")).rejects.toThrow(/s2s.routes/);
    expect(dns.asked).toEqual([]);
  });

  it("reports a failing DNS as a resolution error", async () => {
    const dns = fakeDns({ "_xmpps-server._tcp.example.org": Object.assign(new Error("timeout"), { code: "ETIMEOUT" }) });
    await expect(new RemoteResolver({}, dns).resolve("example.org")).rejects.toThrow(/ETIMEOUT/);
  });
});
