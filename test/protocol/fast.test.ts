/**
 * XEP-0484 FAST over SASL2, on raw TLS sockets in both modes (in a cluster a token issued on one
 * edge is used on the other): a token requested with a SCRAM login, logins by one HMAC
 * (HT-SHA-256-NONE and, bound to the channel, -EXPR), `count` against replays, rotation with the
 * old token valid until the new one is first used, revocation by <fast invalidate/> and by a new
 * password, and the bad inputs.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveCredentials } from "@switchboard/sasl";
import { RawConnection } from "../support/raw.js";
import { clientChannelBinding, scramClient } from "../support/scram.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ limits: { authFailuresPerIp: 1000 } });
  for (const u of ["alice", "bob", "dave"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

const NS = "urn:xmpp:sasl:2";
const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64");
const agent = (id: string) => `<user-agent id='${id}'><software>fast test</software></user-agent>`;

async function open(node: number): Promise<RawConnection> {
  const raw = await RawConnection.open(ts.nodes[node % ts.nodes.length]!.ports.c2sTls, { tls: true });
  raw.open();
  await raw.waitFor(/<\/stream:features>/);
  raw.buffer = "";
  return raw;
}

/** A SCRAM login over SASL2 asking for a token: the token and its expiry. */
async function requestToken(user: string, agentId: string, node = 0, mechanism = "HT-SHA-256-NONE"): Promise<{ token: string; expiry: string }> {
  const raw = await open(node);
  const client = scramClient("SCRAM-SHA-256", user, "secret");
  raw.write(`<authenticate xmlns='${NS}' mechanism='SCRAM-SHA-256'><initial-response>${b64(client.first())}</initial-response>${agent(agentId)}<request-token xmlns='urn:xmpp:fast:0' mechanism='${mechanism}'/></authenticate>`);
  const challenge = await raw.waitFor(/<\/challenge>/);
  raw.buffer = "";
  raw.write(`<response xmlns='${NS}'>${b64(client.final(Buffer.from(/<challenge[^>]*>([^<]*)</.exec(challenge)![1]!, "base64")))}</response>`);
  const success = await raw.waitFor(/<\/success>|<\/failure>/);
  raw.close();
  const m = /<token xmlns="urn:xmpp:fast:0" expiry="([^"]+)" token="([^"]+)"\/>/.exec(success);
  if (!m) throw new Error(`no token in ${success}`);
  return { expiry: m[1]!, token: m[2]! };
}

/** One FAST login: "success" (the server's HMAC checked) or the failure condition; `extra` inside <authenticate/>. */
async function fastLogin(
  user: string,
  agentId: string,
  token: string,
  count: number,
  opts: { node?: number; mechanism?: string; extra?: string; cb?: (raw: RawConnection) => Buffer } = {},
): Promise<{ outcome: string; success: string }> {
  const raw = await open(opts.node ?? 1);
  const cbData = opts.cb?.(raw) ?? Buffer.alloc(0);
  const mechanism = opts.mechanism ?? "HT-SHA-256-NONE";
  const proof = createHmac("sha256", Buffer.from(token)).update("Initiator").update(cbData).digest();
  raw.write(
    `<authenticate xmlns='${NS}' mechanism='${mechanism}'><initial-response>${b64(Buffer.concat([Buffer.from(`${user}\0`), proof]))}</initial-response>${agent(agentId)}<fast xmlns='urn:xmpp:fast:0' count='${count}'/>${opts.extra ?? ""}</authenticate>`,
  );
  const reply = await raw.waitFor(/<\/success>|<\/failure>/);
  raw.close();
  const failed = /<failure xmlns="urn:xmpp:sasl:2"><([a-z-]+)/.exec(reply);
  if (failed) return { outcome: failed[1]!, success: reply };
  const data = Buffer.from(/<additional-data>([^<]+)</.exec(reply)![1]!, "base64");
  expect(data).toEqual(createHmac("sha256", Buffer.from(token)).update("Responder").update(cbData).digest());
  return { outcome: "success", success: reply };
}

describe("XEP-0484 FAST", () => {
  it("issues a token with a SCRAM login and logs in with it by one HMAC, on another edge, binding inline", async () => {
    const { token, expiry } = await requestToken("alice", "agent-a");
    expect(Date.parse(expiry)).toBeGreaterThan(Date.now() + 24 * 3600 * 1000);
    const login = await fastLogin("alice", "agent-a", token, 1, { extra: "<bind xmlns='urn:xmpp:bind:0'><tag>fast</tag></bind>" });
    expect(login.outcome).toBe("success");
    expect(login.success).toMatch(/<authorization-identifier>alice@localhost\/fast\.[0-9a-f]{8}<\/authorization-identifier>/);
  });

  it("refuses a count not above the last one used (a replay), and takes a higher one", async () => {
    const { token } = await requestToken("alice", "agent-replay");
    expect((await fastLogin("alice", "agent-replay", token, 5)).outcome).toBe("success");
    expect((await fastLogin("alice", "agent-replay", token, 5)).outcome).toBe("not-authorized");
    expect((await fastLogin("alice", "agent-replay", token, 4)).outcome).toBe("not-authorized");
    expect((await fastLogin("alice", "agent-replay", token, 6)).outcome).toBe("success");
  });

  it("rotates: a new token on request, the old one valid until the new one is first used", async () => {
    const first = await requestToken("bob", "agent-rot");
    const rotated = await fastLogin("bob", "agent-rot", first.token, 1, { extra: "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>" });
    expect(rotated.outcome).toBe("success");
    const second = /<token xmlns="urn:xmpp:fast:0" expiry="[^"]+" token="([^"]+)"\/>/.exec(rotated.success)![1]!;
    expect(second).not.toBe(first.token);
    // the client may not have received the new one: the old one still works
    expect((await fastLogin("bob", "agent-rot", first.token, 2)).outcome).toBe("success");
    expect((await fastLogin("bob", "agent-rot", second, 1)).outcome).toBe("success");
    // the new token has been used: the old one is gone
    expect((await fastLogin("bob", "agent-rot", first.token, 3)).outcome).toBe("not-authorized");
    expect((await fastLogin("bob", "agent-rot", second, 2)).outcome).toBe("success");
  });

  it("accepts a login without a count (xmpp.js sends a bare <fast/>; no 0-RTT, no replay window) and still refuses a lower count after a higher one", async () => {
    const { token } = await requestToken("alice", "agent-nocount");
    const bare = async (node: number) => {
      const raw = await open(node);
      const proof = createHmac("sha256", Buffer.from(token)).update("Initiator").digest();
      raw.write(`<authenticate xmlns='${NS}' mechanism='HT-SHA-256-NONE'><initial-response>${b64(Buffer.concat([Buffer.from("alice\0"), proof]))}</initial-response>${agent("agent-nocount")}<fast xmlns='urn:xmpp:fast:0'/></authenticate>`);
      const reply = await raw.waitFor(/<\/success>|<\/failure>/);
      raw.close();
      return /<success/.test(reply);
    };
    expect(await bare(1)).toBe(true);
    expect(await bare(0)).toBe(true);
    expect((await fastLogin("alice", "agent-nocount", token, 3)).outcome).toBe("success");
    expect((await fastLogin("alice", "agent-nocount", token, 2)).outcome).toBe("not-authorized");
  });

  it("revokes the token with <fast invalidate='true'/>", async () => {
    const { token } = await requestToken("alice", "agent-inv");
    const raw = await open(1);
    const proof = createHmac("sha256", Buffer.from(token)).update("Initiator").digest();
    raw.write(
      `<authenticate xmlns='${NS}' mechanism='HT-SHA-256-NONE'><initial-response>${b64(Buffer.concat([Buffer.from("alice\0"), proof]))}</initial-response>${agent("agent-inv")}<fast xmlns='urn:xmpp:fast:0' count='1' invalidate='true'/></authenticate>`,
    );
    const success = await raw.waitFor(/<\/success>/);
    expect(success).not.toContain("<token");
    raw.close();
    expect((await fastLogin("alice", "agent-inv", token, 2)).outcome).toBe("not-authorized");
  });

  it("revokes every token of the account when the password changes", async () => {
    const a = await requestToken("dave", "agent-1");
    const b = await requestToken("dave", "agent-2");
    await ts.server.host.store.accounts.setCredentials("dave@localhost", deriveCredentials("secret", { iterations: 256 }));
    expect((await fastLogin("dave", "agent-1", a.token, 1)).outcome).toBe("not-authorized");
    expect((await fastLogin("dave", "agent-2", b.token, 1)).outcome).toBe("not-authorized");
  });

  it("binds HT-SHA-256-EXPR to the connection: the right tls-exporter passes, none fails", async () => {
    const { token } = await requestToken("alice", "agent-expr", 0, "HT-SHA-256-EXPR");
    expect((await fastLogin("alice", "agent-expr", token, 1, { mechanism: "HT-SHA-256-EXPR", cb: (raw) => clientChannelBinding(raw.tlsSocket!, "tls-exporter") })).outcome).toBe("success");
    expect((await fastLogin("alice", "agent-expr", token, 2, { mechanism: "HT-SHA-256-EXPR" })).outcome).toBe("not-authorized");
    // a token is for the mechanism it was issued for
    expect((await fastLogin("alice", "agent-expr", token, 3)).outcome).toBe("not-authorized");
  });
});

describe("FAST bad input", () => {
  it("refuses a wrong token, another agent's token and an unknown user with not-authorized", async () => {
    const { token } = await requestToken("bob", "agent-own");
    expect((await fastLogin("bob", "agent-own", "not the token", 1)).outcome).toBe("not-authorized");
    expect((await fastLogin("bob", "agent-other", token, 1)).outcome).toBe("not-authorized");
    expect((await fastLogin("nobody", "agent-own", token, 1)).outcome).toBe("not-authorized");
    expect((await fastLogin("bob", "agent-own", token, 1)).outcome).toBe("success");
  });

  it("refuses FAST without a user-agent id, a malformed HT message or count, and an unknown HT name", async () => {
    const failure = async (body: string) => {
      const raw = await open(0);
      raw.write(body);
      const reply = await raw.waitFor(/<\/failure>/);
      raw.close();
      return /<failure xmlns="urn:xmpp:sasl:2"><([a-z-]+)/.exec(reply)![1];
    };
    const proof = b64(Buffer.concat([Buffer.from("bob\0"), Buffer.alloc(32)]));
    expect(await failure(`<authenticate xmlns='${NS}' mechanism='HT-SHA-256-NONE'><initial-response>${proof}</initial-response><fast xmlns='urn:xmpp:fast:0' count='1'/></authenticate>`)).toBe("malformed-request");
    expect(await failure(`<authenticate xmlns='${NS}' mechanism='HT-SHA-256-NONE'><initial-response>${b64("bob\0short")}</initial-response>${agent("x")}<fast xmlns='urn:xmpp:fast:0' count='1'/></authenticate>`)).toBe("malformed-request");
    expect(await failure(`<authenticate xmlns='${NS}' mechanism='HT-SHA-512-NONE'><initial-response>${proof}</initial-response>${agent("x")}<fast xmlns='urn:xmpp:fast:0' count='1'/></authenticate>`)).toBe("invalid-mechanism");
    expect(await failure(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0bob\0secret")}</initial-response><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>`)).toBe("malformed-request");
    expect(await failure(`<authenticate xmlns='${NS}' mechanism='HT-SHA-256-NONE'><initial-response>${proof}</initial-response>${agent("x")}<fast xmlns='urn:xmpp:fast:0' count='-1'/></authenticate>`)).toBe("malformed-request");
  });

  it("does not offer FAST through the RFC 6120 profile", async () => {
    const raw = await open(0);
    raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='HT-SHA-256-NONE'>${b64(Buffer.concat([Buffer.from("bob\0"), Buffer.alloc(32)]))}</auth>`);
    await raw.waitFor(/<invalid-mechanism\/>/);
    raw.close();
  });
});
