import { afterEach, describe, expect, it } from "vitest";
import { type Element, StanzaError, parseFrame } from "@switchboard/xml";
import { deriveCredentialsAsync, verifyPasswordAsync } from "@switchboard/sasl";
import type { PreAuthContext } from "@switchboard/core";
import { createTestHost, type TestHost } from "../testing/harness.js";
import { registerModule } from "./index.js";

const NS = "jabber:iq:register";
let t: TestHost;
afterEach(async () => t?.stop());

/** Calls the pre-auth handler the way the c2s stream does before authentication. */
async function preAuth(xml: string, conn: PreAuthContext = { ip: "192.0.2.1", secure: true }): Promise<Element | void> {
  const handler = t.host.streamFeatures.findPreAuthIq(NS);
  if (!handler) throw new Error("no pre-auth handler");
  const stanza = parseFrame(xml);
  const payload = stanza.getChild("query", NS)!;
  return handler(stanza, payload, conn);
}

const registration = (user: string, password: string) =>
  `<iq type='set' id='r1'><query xmlns='${NS}'><username>${user}</username><password>${password}</password></query></iq>`;

async function refusal(p: Promise<unknown>): Promise<StanzaError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StanzaError);
  return err as StanzaError;
}

/** the module as a server with `registration.enabled` loads it */
const open = (options: Record<string, unknown> = {}) => [registerModule, { allowRegistration: true, ...options }] as [typeof registerModule, Record<string, unknown>];

describe("registration before authentication", () => {
  it("offers the stream feature and the form", async () => {
    t = await createTestHost([open()]);
    expect(t.host.streamFeatures.preAuth.map((f) => f().toString())).toContain(
      '<register xmlns="http://jabber.org/features/iq-register"/>',
    );
    const form = (await preAuth(`<iq type='get' id='g1'><query xmlns='${NS}'/></iq>`)) as Element;
    expect(form.getChild("username")).toBeDefined();
    expect(form.getChild("password")).toBeDefined();
    expect(form.getChildText("instructions")).toMatch(/\S/);
  });

  it("creates the account with SCRAM credentials under the normalised name", async () => {
    t = await createTestHost([open()]);
    await preAuth(registration("Alice", "s3cret"));
    const creds = await t.store.accounts.get("alice@localhost");
    expect(creds).toBeDefined();
    expect(await verifyPasswordAsync(creds!, "s3cret")).toBe(true);
    expect(await verifyPasswordAsync(creds!, "wrong")).toBe(false);
  });

  it("refuses a taken username with conflict", async () => {
    t = await createTestHost([open()]);
    await preAuth(registration("alice", "one"));
    expect((await refusal(preAuth(registration("alice", "two")))).condition).toBe("conflict");
  });

  it("refuses missing fields, an invalid username and overlong values with not-acceptable", async () => {
    t = await createTestHost([open({ maxUsernameLength: 8, maxPasswordLength: 8, perIpPerHour: 100 })]);
    expect((await refusal(preAuth(registration("alice", "")))).condition).toBe("not-acceptable");
    expect((await refusal(preAuth(`<iq type='set' id='x'><query xmlns='${NS}'><password>p</password></query></iq>`)))).toMatchObject({ condition: "not-acceptable" });
    expect((await refusal(preAuth(registration("a:b", "pw")))).condition).toBe("not-acceptable");
    expect((await refusal(preAuth(registration("muchtoolong", "pw")))).condition).toBe("not-acceptable");
    expect((await refusal(preAuth(registration("bob", "123456789")))).condition).toBe("not-acceptable");
    expect(await t.store.accounts.list()).toEqual([]);
  });

  it("refuses registration over an unencrypted stream by default", async () => {
    t = await createTestHost([open()]);
    const err = await refusal(preAuth(registration("alice", "pw"), { ip: "192.0.2.1", secure: false }));
    expect(err.condition).toBe("not-authorized");
  });

  it("throttles registrations per IP address", async () => {
    t = await createTestHost([open({ perIpPerHour: 2 })]);
    const refused: string[] = [];
    t.host.hooks.on("limit/exceeded", ({ decision }) => void refused.push(`${decision.policy} ${decision.key}`), { band: "observe" });
    await preAuth(registration("u1", "pw"));
    await preAuth(registration("u2", "pw"));
    const err = await refusal(preAuth(registration("u3", "pw")));
    expect(err).toMatchObject({ condition: "resource-constraint", type: "wait" });
    // 2 per hour: the next token is half an hour away
    expect(err.text).toBe("too many registrations from your address; try again in 30 min");
    expect(refused).toEqual(["register.per-ip 192.0.2.1"]);
    expect(await t.store.accounts.exists("u3@localhost")).toBe(false);
    // another address is not affected
    await preAuth(registration("u3", "pw"), { ip: "198.51.100.7", secure: true });
    expect(await t.store.accounts.exists("u3@localhost")).toBe(true);
  });

  it("is not offered unless allowed: no stream feature and no pre-auth handler", async () => {
    t = await createTestHost([registerModule]);
    expect(t.host.streamFeatures.preAuth).toHaveLength(0);
    expect(t.host.streamFeatures.findPreAuthIq(NS)).toBeUndefined();
    // the disco feature stays: clients look for it before offering a password change
    expect(t.host.disco.hostFeatures.has(NS)).toBe(true);
    await t.stop();
    t = await createTestHost([[registerModule, { allowRegistration: false }]]);
    expect(t.host.streamFeatures.findPreAuthIq(NS)).toBeUndefined();
  });
});

// The module's default is registration closed: these run as on a server without `registration.enabled`.
describe("after authentication", () => {
  it("reports the registration and changes the password, whether registration is closed or open", async () => {
    for (const module of [registerModule, open()]) {
      t = await createTestHost([module]);
      const alice = await t.login("alice@localhost/a");
      await t.store.accounts.setCredentials("alice@localhost", await deriveCredentialsAsync("old-pass"));
      await alice.sendAsClient(`<iq type='get' id='q1'><query xmlns='${NS}'/></iq>`);
      const info = (await alice.waitFor((el) => el.attrs.id === "q1")).getChild("query", NS)!;
      expect(info.getChild("registered")).toBeDefined();
      expect(info.getChildText("username")).toBe("alice");

      await alice.sendAsClient(`<iq type='set' id='q2' to='localhost'><query xmlns='${NS}'><username>alice</username><password>n3w</password></query></iq>`);
      expect((await alice.waitFor((el) => el.attrs.id === "q2")).attrs.type).toBe("result");
      const credentials = (await t.store.accounts.get("alice@localhost"))!;
      expect(await verifyPasswordAsync(credentials, "n3w")).toBe(true);
      expect(await verifyPasswordAsync(credentials, "old-pass")).toBe(false);
      await t.stop();
    }
  });

  it("refuses a change without a new password with bad-request, and another account's JID with service-unavailable", async () => {
    t = await createTestHost([registerModule]);
    const alice = await t.login("alice@localhost/a");
    await t.login("bob@localhost/b");
    const before = await t.store.accounts.get("alice@localhost");
    await alice.sendAsClient(`<iq type='set' id='np'><query xmlns='${NS}'><username>alice</username><password/></query></iq>`);
    expect((await alice.waitFor((el) => el.attrs.id === "np")).getChild("error")!.getChild("bad-request")).toBeDefined();
    await alice.sendAsClient(`<iq type='get' id='ob' to='bob@localhost'><query xmlns='${NS}'/></iq>`);
    expect((await alice.waitFor((el) => el.attrs.id === "ob")).getChild("error")!.getChild("service-unavailable")).toBeDefined();
    await alice.sendAsClient(`<iq type='set' id='os' to='bob@localhost'><query xmlns='${NS}'><remove/></query></iq>`);
    expect((await alice.waitFor((el) => el.attrs.id === "os")).getChild("error")!.getChild("service-unavailable")).toBeDefined();
    expect(await t.store.accounts.exists("bob@localhost")).toBe(true);
    expect(await t.store.accounts.get("alice@localhost")).toEqual(before);
  });

  it("refuses password changes for another account or when disabled", async () => {
    t = await createTestHost([[registerModule, { allowPasswordChange: false }]]);
    const alice = await t.login("alice@localhost/a");
    await alice.sendAsClient(`<iq type='set' id='q3'><query xmlns='${NS}'><username>alice</username><password>x</password></query></iq>`);
    const err = await alice.waitFor((el) => el.attrs.id === "q3");
    expect(err.getChild("error")!.getChild("not-allowed")).toBeDefined();

    await t.stop();
    t = await createTestHost([registerModule]);
    const bob = await t.login("bob@localhost/b");
    await t.login("carol@localhost/c");
    const before = await t.store.accounts.get("carol@localhost");
    await bob.sendAsClient(`<iq type='set' id='q4'><query xmlns='${NS}'><username>carol</username><password>x</password></query></iq>`);
    expect((await bob.waitFor((el) => el.attrs.id === "q4")).attrs.type).toBe("error");
    expect(await t.store.accounts.get("carol@localhost")).toEqual(before);
  });

  it("removes the account and closes the stream after answering", async () => {
    t = await createTestHost([registerModule]);
    const alice = await t.login("alice@localhost/a");
    await alice.sendAsClient(`<iq type='set' id='q5'><query xmlns='${NS}'><remove/></query></iq>`);
    expect(alice.sent.find((el) => el.attrs.id === "q5")?.attrs.type).toBe("result");
    expect(await t.store.accounts.exists("alice@localhost")).toBe(false);
    expect(alice.closed).toBe(true);
    expect(alice.closeError?.condition).toBe("not-authorized");
  });
});
