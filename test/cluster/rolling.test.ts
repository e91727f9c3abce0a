/**
 * The rolling-upgrade proof, small (the full run is `pnpm bench rolling`: 200 clients): three
 * `--role edge` processes behind a TCP balancer, clients with stream management — some of them
 * @xmpp/client, not written here — chatting with numbered messages while every edge in turn is
 * restarted (SIGTERM, drain, start again), then killed (-9, start again). Restarts lose nothing
 * and duplicate nothing; kills lose nothing the server acknowledged; every client is online at
 * the end, the @xmpp/client ones still on the session they started with (resumed every time).
 */
import { describe, expect, it } from "vitest";
import { formatMode, runRolling } from "../../packages/bench/src/rolling/index.js";

describe("rolling upgrade and edge deaths, with stream management", () => {
  it("every edge restarted in turn, then killed in turn: nothing lost, nothing twice on restarts, everyone online", async () => {
    const lines: string[] = [];
    const reports = await runRolling({
      clients: 16,
      xmppjs: 3,
      edges: 3,
      modes: ["restart", "kill"],
      ratePerClient: 2,
      settleMs: 500,
      drainSeconds: 5,
      log: (line) => lines.push(line),
    });
    const text = reports.map(formatMode).join("\n");
    const [restart, kill] = reports;
    expect(restart!.mode).toBe("restart");
    expect(restart!.sent, text).toBeGreaterThan(50);
    expect({ lost: restart!.lost, duplicated: restart!.duplicated, online: restart!.clientsOnline, refused: restart!.resumeFailures }, text).toEqual({ lost: 0, duplicated: 0, online: 16, refused: 0 });
    expect(restart!.acknowledged, text).toBe(restart!.sent);
    for (const edge of restart!.edges) expect(edge.exitCode, text).toBe(0);
    // @xmpp/client resumed through every restart instead of logging in again
    expect(restart!.xmppjsResumedOnly, text).toBe(3);

    expect(kill!.mode).toBe("kill");
    expect({ lost: kill!.lost, online: kill!.clientsOnline }, text).toEqual({ lost: 0, online: 16 });
    expect(kill!.acknowledged, text).toBe(kill!.sent);
    expect(kill!.drops, text).toBeGreaterThan(0);
  }, 240_000);
});
