import { describe, expect, it } from "vitest";
import { createTestHost } from "../testing/harness.js";
import { presenceModule } from "./index.js";
import { rosterModule } from "../roster/index.js";
import { goOnline, makeFriends, presence } from "./test-helpers.js";

const statusOf = (el: { getChildText(name: string): string | null }) => el.getChildText("status");

describe("presence pacing (limits.presencePerSecond, limits.presenceBurst)", () => {
  it("coalesces status changes past the burst: the contact gets the burst at once and then the latest, not every one", async () => {
    const t = await createTestHost([rosterModule, [presenceModule, { broadcastsPerSecond: 2, broadcastBurst: 3 }]]);
    await makeFriends(t, "alice@localhost", "bob@localhost");
    const bob = await goOnline(t, "bob@localhost/pc");
    const alice = await goOnline(t, "alice@localhost/phone");
    await bob.waitFor(presence(undefined, "alice@localhost/phone"));
    bob.take();
    for (let i = 1; i <= 20; i++) await alice.sendAsClient(`<presence><status>s${i}</status></presence>`);
    const now = bob.take(presence(undefined, "alice@localhost/phone")).map(statusOf);
    // initial presence is free: three changes (the burst) go at once, the rest wait
    expect(now).toEqual(["s1", "s2", "s3"]);
    const latest = await bob.waitFor((el) => presence(undefined, "alice@localhost/phone")(el) && statusOf(el) === "s20", 2_000);
    expect(latest).toBeDefined();
    expect(bob.take(presence(undefined, "alice@localhost/phone")).map(statusOf)).toEqual(["s20"]);
  });

  it("never holds unavailable presence, and drops what waited for it", async () => {
    const t = await createTestHost([rosterModule, [presenceModule, { broadcastsPerSecond: 1, broadcastBurst: 1 }]]);
    await makeFriends(t, "alice@localhost", "bob@localhost");
    const bob = await goOnline(t, "bob@localhost/pc");
    const alice = await goOnline(t, "alice@localhost/phone");
    await bob.waitFor(presence(undefined, "alice@localhost/phone"));
    bob.take();
    await alice.sendAsClient("<presence><status>passes</status></presence>");
    await alice.sendAsClient("<presence><status>waits</status></presence>");
    await alice.sendAsClient("<presence type='unavailable'><status>bye</status></presence>");
    const gone = await bob.waitFor(presence("unavailable", "alice@localhost/phone"));
    expect(statusOf(gone)).toBe("bye");
    await new Promise((r) => setTimeout(r, 1_200));
    expect(bob.take(presence(undefined, "alice@localhost/phone")).map(statusOf)).toEqual(["passes"]);
  });

  it("paces nothing when limits.presencePerSecond is 0", async () => {
    const t = await createTestHost([rosterModule, [presenceModule, { broadcastsPerSecond: 0 }]]);
    await makeFriends(t, "alice@localhost", "bob@localhost");
    const bob = await goOnline(t, "bob@localhost/pc");
    const alice = await goOnline(t, "alice@localhost/phone");
    await bob.waitFor(presence(undefined, "alice@localhost/phone"));
    bob.take();
    for (let i = 1; i <= 10; i++) await alice.sendAsClient(`<presence><status>s${i}</status></presence>`);
    expect(bob.take(presence(undefined, "alice@localhost/phone")).map(statusOf)).toHaveLength(10);
  });
});
