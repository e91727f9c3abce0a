/**
 * The rolling-upgrade proof (issue: stream management, "Rolling upgrade, proven"): a cluster of
 * edges behind a TCP balancer, clients with stream management chatting with numbered messages
 * while every edge in turn is restarted (SIGTERM: drain, then start again) or killed (-9, then
 * started again). Most clients are ResilientClient (this repository's, which sends again what the
 * server did not acknowledge); some are @xmpp/client (not written here), which resume with their
 * own XEP-0198 support and receive. At the end of each mode every message is checked: received
 * exactly once (restart) or at least once (kill: nothing the server acknowledged may be missing;
 * copies are counted), and every client must be online.
 */
import { client as xmppClient, type Client as XmppClient } from "@xmpp/client";
import type { Element } from "@switchboard/xml";
import { DEFAULT_PASSWORD, DEFAULT_USER_PREFIX, BENCH_DOMAIN } from "../servers/launcher.js";
import { startBalancer } from "./balancer.js";
import { RollingCluster } from "./cluster.js";
import { ResilientClient } from "./resilient-client.js";

export type RollingMode = "restart" | "kill";

export interface RollingOptions {
  clients: number;
  /** how many of them are @xmpp/client (receivers), the rest ResilientClient */
  xmppjs: number;
  edges: number;
  modes: RollingMode[];
  /** messages per second each ResilientClient sends */
  ratePerClient: number;
  /** pause after an edge is back before the next one goes (ms) */
  settleMs: number;
  drainSeconds: number;
  log?: (line: string) => void;
}

export interface ModeReport {
  mode: RollingMode;
  sent: number;
  /** messages the server acknowledged to their senders */
  acknowledged: number;
  receivedOnce: number;
  lost: number;
  duplicated: number;
  /** the first few lost and duplicated messages, "sender:number" */
  lostSample: string[];
  duplicatedSample: string[];
  clientsOnline: number;
  clients: number;
  /** connection drops the ResilientClients went through, and how long they were detached */
  drops: number;
  detachedMs: { median: number; p95: number; max: number };
  resumeFailures: number;
  /** @xmpp/client instances still on their first session id (resumed, never logged in anew) */
  xmppjsResumedOnly: number;
  /** per edge: drain ms and exit code (restart) or time to be back (kill) */
  edges: Array<{ nodeId: string; drainMs?: number; exitCode?: number | null; backMs: number; clientsBackMs: number }>;
  passed: boolean;
}

interface Receiver {
  /** per sender index: message number → times received */
  got: Map<number, Map<number, number>>;
}

function record(r: Receiver, el: Element): void {
  const body = el.getChildText("body");
  const m = body ? /^(\d+):(\d+)$/.exec(body) : null;
  if (!m) return;
  const sender = Number(m[1]);
  let bySender = r.got.get(sender);
  if (!bySender) r.got.set(sender, (bySender = new Map()));
  const n = Number(m[2]);
  bySender.set(n, (bySender.get(n) ?? 0) + 1);
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** Waits for `p`, at most `ms`. */
async function within(ms: number, p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

async function waitUntil(what: string, timeoutMs: number, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

export async function runRolling(opts: RollingOptions): Promise<ModeReport[]> {
  const log = opts.log ?? (() => undefined);
  const prefix = DEFAULT_USER_PREFIX;
  const password = DEFAULT_PASSWORD;
  const resilientCount = opts.clients - opts.xmppjs;
  if (resilientCount < 1) throw new Error("at least one client must be a ResilientClient (the senders)");
  // @xmpp/client checks certificates; the cluster's is self-signed, on loopback.
  if (opts.xmppjs > 0) process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

  const cluster = await RollingCluster.start({ edges: opts.edges, users: opts.clients, userPrefix: prefix, password, drainSeconds: opts.drainSeconds }, log);
  const balancer = await startBalancer(() => cluster.livePorts());
  const receivers: Receiver[] = Array.from({ length: opts.clients }, () => ({ got: new Map() }));
  const resilient: ResilientClient[] = [];
  const xmppjs: Array<{ xmpp: XmppClient; firstId: string }> = [];
  const reports: ModeReport[] = [];
  try {
    for (let i = 0; i < resilientCount; i++) {
      const c = new ResilientClient({ host: "127.0.0.1", port: balancer.port, domain: BENCH_DOMAIN, username: `${prefix}${i}`, password, resource: `r${i}`, onMessage: (el) => record(receivers[i]!, el) });
      await c.start();
      resilient.push(c);
    }
    for (let i = resilientCount; i < opts.clients; i++) {
      const xmpp = xmppClient({ service: `xmpp://127.0.0.1:${balancer.port}`, domain: BENCH_DOMAIN, username: `${prefix}${i}`, password, resource: `r${i}` });
      xmpp.on("error", () => {});
      xmpp.on("stanza", (el: Element) => {
        if (el.name === "message") record(receivers[i]!, el);
      });
      await xmpp.start();
      xmppjs.push({ xmpp, firstId: xmpp.streamManagement.id });
    }
    log(`${resilientCount} ResilientClients and ${opts.xmppjs} @xmpp/client online through the balancer on port ${balancer.port}`);
    const allOnline = () => resilient.every((c) => c.online) && xmppjs.every((x) => (x.xmpp as unknown as { status: string }).status === "online");

    const sentBy = new Array<number>(resilientCount).fill(0);
    for (const mode of opts.modes) {
      const firstOf = sentBy.map((n) => n + 1);
      const dropsBefore = resilient.map((c) => c.detachedMs.length);
      const failuresBefore = resilient.reduce((n, c) => n + c.resumeFailures, 0);
      let sending = true;
      let turn = 0;
      let due = 0;
      // round robin over the senders, every 50 ms what ratePerClient asks for all of them
      const ticker = setInterval(() => {
        if (!sending) return;
        due += resilientCount * opts.ratePerClient * 0.05;
        for (; due >= 1; due--) {
          const i = turn++ % resilientCount;
          const to = (i + 1) % opts.clients;
          resilient[i]!.sendChat(`${prefix}${to}@${BENCH_DOMAIN}/r${to}`, `${i}:${++sentBy[i]!}`);
        }
      }, 50);
      const edgesReport: ModeReport["edges"] = [];
      await new Promise((r) => setTimeout(r, opts.settleMs));
      for (let e = 0; e < cluster.edges.length; e++) {
        const nodeId = cluster.edges[e]!.nodeId;
        const entry: ModeReport["edges"][number] = { nodeId, backMs: 0, clientsBackMs: 0 };
        const downAt = Date.now();
        if (mode === "restart") {
          const { ms, code } = await cluster.terminate(e);
          entry.drainMs = ms;
          entry.exitCode = code;
        } else {
          await cluster.kill(e);
        }
        await cluster.relaunch(e);
        entry.backMs = Date.now() - downAt;
        entry.clientsBackMs = (await waitUntil(`every client online after ${mode} of ${nodeId}`, 60_000, allOnline)) + entry.backMs;
        edgesReport.push(entry);
        log(`${mode} ${nodeId}: ${entry.drainMs !== undefined ? `drained in ${entry.drainMs} ms (exit ${entry.exitCode}), ` : ""}back after ${entry.backMs} ms, every client online after ${entry.clientsBackMs} ms`);
        await new Promise((r) => setTimeout(r, opts.settleMs));
      }
      sending = false;
      clearInterval(ticker);
      // everything acknowledged, then a moment for the last deliveries
      const acked = await Promise.all(resilient.map((c) => c.allAcknowledged(30_000)));
      for (const [i, ok] of acked.entries()) if (!ok) log(`not acknowledged: ${resilient[i]!.describe()}`);
      await new Promise((r) => setTimeout(r, 2000));

      let sent = 0;
      let acknowledged = 0;
      let once = 0;
      let lost = 0;
      let duplicated = 0;
      const lostSample: string[] = [];
      const duplicatedSample: string[] = [];
      for (let i = 0; i < resilientCount; i++) {
        const to = (i + 1) % opts.clients;
        const got = receivers[to]!.got.get(i) ?? new Map<number, number>();
        for (let n = firstOf[i]!; n <= sentBy[i]!; n++) {
          sent++;
          const times = got.get(n) ?? 0;
          if (times === 0) {
            lost++;
            if (lostSample.length < 10) lostSample.push(`${i}:${n}`);
          } else if (times === 1) once++;
          else {
            duplicated++;
            if (duplicatedSample.length < 10) duplicatedSample.push(`${i}:${n}`);
          }
        }
        if (acked[i]) acknowledged += sentBy[i]! - firstOf[i]! + 1;
      }
      const detached = resilient.flatMap((c, i) => c.detachedMs.slice(dropsBefore[i]));
      const report: ModeReport = {
        mode,
        sent,
        acknowledged,
        receivedOnce: once,
        lost,
        duplicated,
        lostSample,
        duplicatedSample,
        clientsOnline: resilient.filter((c) => c.online).length + xmppjs.filter((x) => (x.xmpp as unknown as { status: string }).status === "online").length,
        clients: opts.clients,
        drops: detached.length,
        detachedMs: { median: quantile(detached, 0.5), p95: quantile(detached, 0.95), max: quantile(detached, 1) },
        resumeFailures: resilient.reduce((n, c) => n + c.resumeFailures, 0) - failuresBefore,
        xmppjsResumedOnly: xmppjs.filter((x) => x.xmpp.streamManagement.id === x.firstId).length,
        edges: edgesReport,
        passed: false,
      };
      report.passed =
        report.lost === 0 &&
        report.clientsOnline === report.clients &&
        report.acknowledged === report.sent &&
        (mode === "kill" || report.duplicated === 0);
      reports.push(report);
      log(formatMode(report));
      if (process.env.SB_ROLLING_LOG) for (let e = 0; e < cluster.edges.length; e++) log(`--- ${cluster.edges[e]!.nodeId}:\n${cluster.output(e)}`);
    }
    return reports;
  } finally {
    // Bounded: a client stuck in a handshake with a dying edge must not hold the run open.
    await within(10_000, Promise.all(resilient.map((c) => c.stop().catch(() => {}))));
    for (const x of xmppjs) x.xmpp.reconnect.stop();
    await within(10_000, Promise.all(xmppjs.map((x) => x.xmpp.stop().catch(() => {}))));
    await within(5_000, balancer.close());
    await cluster.stop();
  }
}

export function formatMode(r: ModeReport): string {
  return [
    `${r.mode}: ${r.passed ? "PASS" : "FAIL"} — ${r.sent} messages sent, ${r.acknowledged} acknowledged, ${r.receivedOnce} received once, ${r.lost} lost, ${r.duplicated} received more than once`,
    `  ${r.clientsOnline}/${r.clients} clients online at the end; ${r.drops} drops, detached median ${r.detachedMs.median} ms, p95 ${r.detachedMs.p95} ms, max ${r.detachedMs.max} ms; ${r.resumeFailures} resumptions refused; ${r.xmppjsResumedOnly} @xmpp/client still on their first session`,
    ...(r.lostSample.length > 0 ? [`  lost (sender:number): ${r.lostSample.join(" ")}`] : []),
    ...(r.duplicatedSample.length > 0 ? [`  duplicated: ${r.duplicatedSample.join(" ")}`] : []),
    ...r.edges.map((e) => `  ${e.nodeId}: ${e.drainMs !== undefined ? `drain ${e.drainMs} ms, exit ${e.exitCode}, ` : ""}back ${e.backMs} ms, all clients online ${e.clientsBackMs} ms`),
  ].join("\n");
}
