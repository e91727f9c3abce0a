import { afterEach, describe, expect, it } from "vitest";
import { startHttp, type RunningHttp } from "./http.js";
import { mountHostMeta } from "./host-meta.js";

let running: RunningHttp | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function serve(websocketUrl?: string): Promise<string> {
  running = await startHttp("127.0.0.1", 0, { notReadyReason: async () => undefined });
  mountHostMeta(running, { websocketPath: "/xmpp-websocket", websocketUrl });
  return `http://127.0.0.1:${running.port}`;
}

describe("host-meta (XEP-0156 §3)", () => {
  it("names the WebSocket endpoint in XRD and JSON, readable from any origin", async () => {
    const base = await serve();
    const xrd = await fetch(`${base}/.well-known/host-meta`);
    expect(xrd.status).toBe(200);
    expect(xrd.headers.get("content-type")).toBe("application/xrd+xml");
    expect(xrd.headers.get("access-control-allow-origin")).toBe("*");
    const host = new URL(base).host;
    expect(await xrd.text()).toContain(`<Link rel="urn:xmpp:alt-connections:websocket" href="ws://${host}/xmpp-websocket"/>`);
    const json = await fetch(`${base}/.well-known/host-meta.json`);
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(await json.json()).toEqual({ links: [{ rel: "urn:xmpp:alt-connections:websocket", href: `ws://${host}/xmpp-websocket` }] });
  });

  it("says wss:// behind a TLS proxy, and what http.websocketUrl says when set", async () => {
    const base = await serve();
    const behindProxy = await fetch(`${base}/.well-known/host-meta.json`, { headers: { "x-forwarded-proto": "https" } });
    expect(((await behindProxy.json()) as { links: Array<{ href: string }> }).links[0]!.href).toMatch(/^wss:\/\//);
    await running!.close();
    const configured = await serve("wss://xmpp.example.org/ws");
    expect(await (await fetch(`${configured}/.well-known/host-meta.json`)).json()).toEqual({ links: [{ rel: "urn:xmpp:alt-connections:websocket", href: "wss://xmpp.example.org/ws" }] });
  });

  it("echoes no Host header that is not a plain host[:port]", async () => {
    const base = await serve();
    const { request } = await import("node:http");
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${base}/.well-known/host-meta.json`, { headers: { host: 'evil"><x' } }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    expect(JSON.parse(body)).toEqual({ links: [] });
  });
});
