import { afterEach, describe, expect, it, vi } from "vitest";
import type { ControlMessage, Host } from "@switchboard/core";
import { ComponentDirectory, LEASE_MS, type LocalLink } from "./directory.js";

/** Nodes whose control notices wait in one queue until delivered, so two claims can race. */
function cluster(...nodes: string[]) {
  const handlers: Array<(m: ControlMessage) => void> = [];
  const queue: ControlMessage[] = [];
  const changes: string[] = [];
  const directories = nodes.map((nodeId) => {
    const host = {
      nodeId,
      isNodeAlive: () => true,
      log: { warn: () => {} },
      bus: {
        subscribeControl: (h: (m: ControlMessage) => void) => (handlers.push(h), () => {}),
        publishControl: async (m: ControlMessage) => void queue.push(m),
      },
    } as unknown as Host;
    const d = new ComponentDirectory(host, (domain, up) => changes.push(`${nodeId}:${domain}:${up ? "up" : "down"}`));
    d.start();
    return d;
  });
  const deliver = () => {
    for (const m of queue.splice(0)) for (const h of handlers) h(m);
  };
  const notice = (m: ControlMessage) => handlers.forEach((h) => h(m));
  return { directories, deliver, notice, changes };
}

function link(domain: string, since: number): LocalLink & { replacedCalls: number } {
  return { domain, since, replacedCalls: 0, replaced() { this.replacedCalls++; }, send: () => "written" };
}

afterEach(() => vi.useRealTimers());

describe("ComponentDirectory", () => {
  it("tells every node where a component is, and forgets it when it goes", () => {
    const { directories: [a, b], deliver, changes } = cluster("a", "b");
    const l = link("push.example", 1);
    expect(a!.claim(l)).toBe(true);
    deliver();
    expect(a!.holder("push.example")).toBe("a");
    expect(b!.holder("push.example")).toBe("a");
    expect(b!.claim(link("push.example", 2))).toBe(false);
    expect(b!.connected()).toEqual(["push.example"]);
    a!.release(l);
    deliver();
    expect(b!.holder("push.example")).toBeUndefined();
    expect(changes).toEqual(["a:push.example:up", "b:push.example:up", "a:push.example:down", "b:push.example:down"]);
  });

  it("settles two claims that raced on two nodes: the older connection keeps the domain", () => {
    const { directories: [a, b], deliver } = cluster("a", "b");
    const older = link("push.example", 100);
    const newer = link("push.example", 200);
    expect(b!.claim(newer)).toBe(true);
    expect(a!.claim(older)).toBe(true);
    deliver();
    expect(newer.replacedCalls).toBe(1);
    expect(older.replacedCalls).toBe(0);
    expect(a!.holder("push.example")).toBe("a");
    expect(b!.holder("push.example")).toBe("a");
    expect(b!.localLink("push.example")).toBeUndefined();
  });

  it("drops a holder whose node is gone at once, and one whose announcements stopped after the lease", () => {
    vi.useFakeTimers();
    const { directories: [a, b, c], deliver, notice } = cluster("a", "b", "c");
    a!.claim(link("one.example", 1));
    c!.claim(link("two.example", 1));
    deliver();
    expect(b!.connected()).toEqual(["one.example", "two.example"]);
    notice({ type: "node.gone", origin: "a", node: "c", receipts: [] });
    expect(b!.holder("two.example")).toBeUndefined();
    expect(b!.holder("one.example")).toBe("a");
    // a goes silent (its process froze): its announcements stop, nothing says goodbye
    vi.setSystemTime(Date.now() + LEASE_MS - 1);
    expect(b!.holder("one.example")).toBe("a");
    vi.setSystemTime(Date.now() + 2);
    expect(b!.holder("one.example")).toBeUndefined();
  });
});
