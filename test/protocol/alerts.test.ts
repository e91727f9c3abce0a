/**
 * Detection and alerts (alerts.rules, alerts.webhookUrl, alerts.evaluateSeconds;
 * docs/observability.md "Alerts"): a user sending over a rule's threshold raises that rule's
 * alert — in the recent list, counted in /metrics, POSTed to the webhook — while a user under
 * it raises nothing. In cluster mode (two edges, real Redis and NATS) the alert raised on the
 * heavy user's edge is listed on the other one too, and counted and posted only where raised.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Alert } from "@switchboard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

const RULE = "test-heavy-sender";

/** Every Prometheus sample of `name` whose labels include `label`, summed. */
async function scraped(ts: TestServer, node: number, name: string, label: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${ts.nodes[node]!.ports.http}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(label)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

describe("alert rules on per-user traffic", () => {
  let ts: TestServer;
  let hook: Server;
  const posted: Array<Alert & { text: string }> = [];
  let bob: TestClient;

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (req.method === "POST" && req.headers["content-type"] === "application/json") posted.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    ts = await startTestServer({
      alerts: {
        evaluateSeconds: 1,
        webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
        rules: [{ name: RULE, measure: "stanzas_in_per_second", above: 5, forSeconds: 2 }],
      },
    });
    for (const u of ["heavy", "calm", "bob"]) await ts.addUser(u);
    bob = await connect(ts, "bob", { resource: "b", node: ts.nodes.at(-1) });
    await bob.send(xml("presence"));
  }, 60_000);
  afterAll(async () => {
    await bob?.stop();
    await ts?.stop();
    await new Promise((r) => hook?.close(r));
  });

  it("raises the rule's alert for a user over its threshold: listed, counted, posted, and known to every node", async () => {
    const heavy = await RawConnection.open(ts.nodes[0]!.ports.c2s);
    await heavy.login("heavy", "secret", "h");
    const calm = await connect(ts, "calm", { resource: "c", node: ts.nodes[0] });
    // 40 stanzas in one write: 20/s over the rule's 2 s window, four times its threshold of 5/s
    let flood = "";
    for (let i = 0; i < 40; i++) flood += `<message to='bob@localhost' type='chat' id='h${i}'><body>heavy-${i}</body></message>`;
    heavy.write(flood);
    await calm.send(xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, "calm-1")));
    await bob.waitFor((el) => el.getChildText("body") === "heavy-39", 10_000);

    const all = () => ts.nodes.flatMap((n) => n.host.alerts.recent()).filter((a) => a.rule === RULE);
    await expect.poll(() => all().length, { timeout: 10_000 }).toBeGreaterThan(0);
    const raisedOn = ts.nodes[0]!.host.nodeId;
    const [alert] = ts.nodes[0]!.host.alerts.recent().filter((a) => a.rule === RULE);
    expect(alert).toMatchObject({ subject: "heavy@localhost", node: raisedOn, measure: "stanzas_in_per_second", threshold: 5 });
    expect(alert!.value).toBeGreaterThan(5);
    expect(alert!.message).toMatch(/stanzas_in_per_second averaged [\d.]+ over the last 2 s/);

    // the webhook got it once, with the alert's fields and a line to read
    await expect.poll(() => posted.length, { timeout: 5_000 }).toBe(1);
    expect(posted[0]).toMatchObject({ rule: RULE, subject: "heavy@localhost", node: raisedOn, at: alert!.at });
    expect(posted[0]!.text).toContain(`alert ${RULE} for heavy@localhost`);
    expect(await scraped(ts, 0, "switchboard_alerts_total", `rule="${RULE}"`)).toBe(1);
    expect(await scraped(ts, 0, "switchboard_alert_webhooks_total", 'result="ok"')).toBe(1);

    if (ts.mode === "cluster") {
      // listed on the other edge too (the bus), but counted and posted only where raised
      await expect.poll(() => ts.nodes[1]!.host.alerts.recent().filter((a) => a.rule === RULE), { timeout: 5_000 }).toEqual([alert]);
      expect(await scraped(ts, 1, "switchboard_alerts_total", `rule="${RULE}"`)).toBe(0);
    }

    // the condition still holds for a few passes: one alert a minute, not one per pass
    await new Promise((r) => setTimeout(r, 1_500));
    for (const node of ts.nodes) expect(node.host.alerts.recent().filter((a) => a.rule === RULE)).toEqual([alert]);
    expect(posted).toHaveLength(1);
    // the user who sent one stanza is under the threshold; bob, who received 41, is not measured on that
    expect(all().map((a) => a.subject)).not.toContain("calm@localhost");
    expect(all().map((a) => a.subject)).not.toContain("bob@localhost");
    heavy.write("</stream:stream>");
    await calm.stop();
  }, 40_000);
});
