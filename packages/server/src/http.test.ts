import { afterEach, describe, expect, it } from "vitest";
import { startHttp } from "./http.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

async function serve(reason: string | undefined | Error) {
  const http = await startHttp("127.0.0.1", 0, {
    notReadyReason: async () => {
      if (reason instanceof Error) throw reason;
      return reason;
    },
  });
  close = http.close;
  return `http://127.0.0.1:${http.port}`;
}

describe("HTTP health endpoints", () => {
  it("answers /healthz and /readyz when ready", async () => {
    const base = await serve(undefined);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz?verbose=1`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe("ready\n");
  });

  it("says why it is not ready, and survives a failing check", async () => {
    let base = await serve("redis connecting");
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe("not ready: redis connecting\n");
    await close!();
    base = await serve(new Error("boom"));
    const failed = await fetch(`${base}/readyz`);
    expect(failed.status).toBe(503);
    expect(await failed.text()).toMatch(/health check failed: boom/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("refuses other methods and unknown paths clearly", async () => {
    const base = await serve(undefined);
    const post = await fetch(`${base}/readyz`, { method: "POST", body: "garbage" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const missing = await fetch(`${base}/%00../../etc/passwd`);
    expect(missing.status).toBe(404);
  });
});
