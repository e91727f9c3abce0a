import { describe, expect, it } from "vitest";
import { MemoryStanzaBus } from "./memory/bus.js";
import { TapInterest } from "./tap.js";

function recordingLog() {
  const lines: string[] = [];
  const log = { info: (_o: unknown, m?: string) => lines.push(m ?? ""), warn: () => {}, error: () => {}, debug: () => {}, child: () => log } as never;
  return { lines, log };
}

describe("TapInterest", () => {
  it("watches a user until the lease passes, logging each start and stop once", () => {
    let now = 1_000;
    const { lines, log } = recordingLog();
    const tap = new TapInterest(log, () => now);
    expect(tap.isWatched("alice@x")).toBe(false);
    tap.watch("alice@x", now + 15_000, "ops");
    tap.watch("alice@x", now + 16_000, "ops"); // a renewal is not another start
    expect(tap.isWatched("alice@x")).toBe(true);
    expect(tap.isWatched("bob@x")).toBe(false);
    now += 16_001;
    expect(tap.isWatched("alice@x")).toBe(false);
    expect(lines).toEqual(["tap of alice@x started by ops", "tap of alice@x stopped (no watcher renewed it)"]);
  });

  it("follows tap.watch and tap.unwatch notices on the bus", async () => {
    const bus = new MemoryStanzaBus();
    const { lines, log } = recordingLog();
    const tap = new TapInterest(log);
    tap.follow(bus);
    await bus.publishControl({ type: "tap.watch", origin: "cli", user: "carol@x", until: Date.now() + 10_000, by: "cli" });
    expect(tap.users()).toEqual(["carol@x"]);
    await bus.publishControl({ type: "tap.unwatch", origin: "cli", user: "carol@x", by: "cli" });
    expect(tap.isWatched("carol@x")).toBe(false);
    expect(lines).toEqual(["tap of carol@x started by cli", "tap of carol@x stopped by cli"]);
    tap.stop();
  });
});
