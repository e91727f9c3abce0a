import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { InProcessMetrics, type Alert, type Logger } from "@switchboard/core";
import { AlertWebhook } from "./webhook.js";

const alert: Alert = { rule: "heavy-sender", subject: "a@x", message: "too much", measure: "stanzas_in_per_second", value: 31, threshold: 20, at: "2024-01-01T00:00:00.000Z", node: "n1" };

function recordingLog(): Logger & { warnings: Array<{ obj: Record<string, unknown>; msg?: string }> } {
  const warnings: Array<{ obj: Record<string, unknown>; msg?: string }> = [];
  const noop = () => {};
  const log = { trace: noop, debug: noop, info: noop, error: noop, warn: (obj: unknown, msg?: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg }), child: () => log, warnings };
  return log;
}

let server: Server | undefined;
async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => handler(req, res, body));
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/secret-path`;
}
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

const results = (m: InProcessMetrics, result: string) => m.value("switchboard_alert_webhooks_total", { result });

describe("alert webhook", () => {
  it("POSTs the alert as JSON with a text line", async () => {
    const got: Array<{ method?: string; type?: string; body: unknown }> = [];
    const url = await listen((req, res, body) => {
      got.push({ method: req.method, type: req.headers["content-type"], body: JSON.parse(body) });
      res.writeHead(204).end();
    });
    const metrics = new InProcessMetrics();
    const hook = new AlertWebhook(url, recordingLog(), metrics);
    hook.post(alert);
    await expect.poll(() => results(metrics, "ok")).toBe(1);
    expect(got).toEqual([{ method: "POST", type: "application/json", body: { ...alert, text: "[n1] alert heavy-sender for a@x: too much" } }]);
  });

  it("logs and counts a refusal, a redirect and an endpoint that is down, naming only the origin", async () => {
    let status = 500;
    const url = await listen((_req, res) => res.writeHead(status, { location: "http://elsewhere/" }).end());
    const metrics = new InProcessMetrics();
    const log = recordingLog();
    const hook = new AlertWebhook(url, log, metrics);
    hook.post(alert);
    await expect.poll(() => results(metrics, "failed")).toBe(1);
    status = 302;
    hook.post(alert);
    await expect.poll(() => results(metrics, "failed")).toBe(2);
    expect(log.warnings.map((w) => w.obj.reason)).toEqual(["HTTP 500", "HTTP 302"]);
    expect(JSON.stringify(log.warnings)).not.toContain("secret-path");
    expect(log.warnings[0]!.obj).toMatchObject({ webhook: new URL(url).origin, rule: "heavy-sender", subject: "a@x" });

    // a port nothing listens on (taken, then let go)
    const spare = createServer();
    await new Promise<void>((r) => spare.listen(0, "127.0.0.1", r));
    const freed = (spare.address() as AddressInfo).port;
    await new Promise((r) => spare.close(r));
    const down = new AlertWebhook(`http://127.0.0.1:${freed}/hook`, log, metrics);
    down.post(alert);
    await expect.poll(() => results(metrics, "failed")).toBe(3);
    expect(log.warnings[2]!.obj.reason).toBe("ECONNREFUSED");
  });

  it("never blocks: post() returns at once, a silent endpoint times out, a full queue drops", async () => {
    const url = await listen(() => {}); // never answers
    const metrics = new InProcessMetrics();
    const log = recordingLog();
    const hook = new AlertWebhook(url, log, metrics, { timeoutMs: 200 });
    const started = performance.now();
    for (let i = 0; i < 300; i++) hook.post({ ...alert, subject: `u${i}@x` });
    expect(performance.now() - started).toBeLessThan(100);
    // 4 in flight, 256 queued, the rest dropped with one log line
    expect(hook.pending).toBe(260);
    expect(results(metrics, "dropped")).toBe(40);
    expect(log.warnings.filter((w) => /behind/.test(w.msg ?? ""))).toHaveLength(1);
    await expect.poll(() => results(metrics, "failed"), { timeout: 2_000 }).toBeGreaterThanOrEqual(4);
    expect(log.warnings.find((w) => w.obj.reason !== undefined)!.obj.reason).toBe("no answer within 200 ms");
    hook.close();
    expect(hook.pending).toBeLessThanOrEqual(4);
    await expect.poll(() => hook.pending).toBe(0);
  });
});
