import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createTestHost, type TestHost } from "../testing/harness.js";
import { versionModule } from "./index.js";

let t: TestHost;
afterEach(async () => t?.stop());

async function queryVersion(host: TestHost) {
  const alice = await host.login("alice@localhost/a");
  await alice.sendAsClient("<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>");
  return (await alice.waitFor((el) => el.attrs.id === "v1")).getChild("query", "jabber:iq:version")!;
}

describe("software version", () => {
  it("reports the name and the release version, without the OS by default", async () => {
    t = await createTestHost([versionModule]);
    const rootVersion = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")).version;
    const query = await queryVersion(t);
    expect(query.getChildText("name")).toBe("Switchboard");
    expect(query.getChildText("version")).toBe(rootVersion);
    expect(query.getChild("os")).toBeUndefined();
    expect(t.host.disco.hostFeatures.has("jabber:iq:version")).toBe(true);
  });

  it("uses the configured version and shows the OS when asked", async () => {
    t = await createTestHost([[versionModule, { version: "9.9.9-test", showOs: true }]]);
    const query = await queryVersion(t);
    expect(query.getChildText("version")).toBe("9.9.9-test");
    expect(query.getChildText("os")).toMatch(/\S/);
  });
});
