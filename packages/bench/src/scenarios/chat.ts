/**
 * chat: `users` online users exchange one-to-one chat messages (RFC 6121 §5.2.2) with random
 * online peers at stepped aggregate rates. Each body carries the send time (hrtime, same
 * process as the receivers) and a sequence number, so receivers compute the latency and the
 * step a message belongs to. Stepping stops at the first saturated step (delivered < 80 % of
 * the offered rate).
 */
import type { Element } from "@switchboard/xml";
import type { LoadClient } from "../client.js";
import type { LoadClientError } from "../errors.js";
import { closeAll, every, loginMany, pace, sleep, throwIfAborted, type RunOptions } from "../pool.js";
import { LatencyHistogram, countFailure, round, serverCpuMs } from "../stats.js";
import type { ChatResult, ChatSpec, ChatStep, Failures, Target } from "../types.js";

const DRAIN_MS = 2000;
const SATURATED_BELOW = 0.8;
const LOGIN_CONCURRENCY = 100;

class StepCounters {
  sent = 0;
  delivered = 0;
  late = 0;
  lastDeliveryMs = 0;
  readonly latency = new LatencyHistogram();
  constructor(
    readonly firstSeq: number,
    readonly startedMs: number,
    /** the server's CPU ms so far at the step's start (serverCpuMs) */
    readonly cpuStartMs: number | undefined,
  ) {}
}

export async function runChat(target: Target, spec: ChatSpec, run: RunOptions): Promise<ChatResult> {
  const log = run.log ?? (() => undefined);
  const failures: Failures = {};
  let step: StepCounters | undefined;
  let online: LoadClient[] = [];
  let dropped = false;

  const onStanza = (el: Element) => {
    if (el.name !== "message") return;
    if (el.attrs.type === "error") return countFailure(failures, "message-error");
    const body = el.getChildText("body");
    const space = body?.indexOf(" ") ?? -1;
    if (!body || space < 0 || step === undefined) return;
    const now = process.hrtime.bigint();
    const seq = Number(body.slice(space + 1));
    if (seq < step.firstSeq) {
      step.late++;
      return;
    }
    step.delivered++;
    step.lastDeliveryMs = performance.now();
    step.latency.record(Number(now - BigInt(body.slice(0, space))));
  };
  const onClose = (err: LoadClientError) => {
    dropped = true;
    countFailure(failures, `dropped:${err.kind}`);
  };

  let loggedIn = 0;
  const stopProgress = every(1000, () => log(`chat: logging in, ${loggedIn}/${spec.users}`));
  const login = await loginMany(target, spec.users, LOGIN_CONCURRENCY, run, { onStanza, onClose, streamManagement: spec.streamManagement, onProgress: (n) => (loggedIn = n) }).finally(stopProgress);
  online = login.clients;
  Object.assign(failures, login.failures);
  const steps: ChatStep[] = [];
  try {
    throwIfAborted(run.signal);
    if (online.length < 2) throw new Error(`chat needs at least 2 online users, ${online.length} logged in (failures: ${JSON.stringify(failures)})`);
    log(`chat: ${online.length}/${spec.users} online`);
    let seq = 0;
    const sendOne = () => {
      if (dropped) {
        online = online.filter((c) => c.isOnline);
        dropped = false;
        if (online.length < 2) return;
      }
      const from = Math.floor(Math.random() * online.length);
      let to = Math.floor(Math.random() * (online.length - 1));
      if (to >= from) to++;
      online[from]!.sendChat(online[to]!.jid, `${process.hrtime.bigint()} ${seq++}`);
      step!.sent++;
    };
    for (const rate of spec.rates) {
      const counters = new StepCounters(seq, performance.now(), serverCpuMs(target.serverPids));
      step = counters;
      const sending = await pace({ rate, durationMs: spec.stepSeconds * 1000, signal: run.signal, emit: (n) => { for (let i = 0; i < n; i++) sendOne(); } });
      const drainUntil = performance.now() + DRAIN_MS;
      while (counters.delivered < counters.sent && performance.now() < drainUntil && !run.signal?.aborted) await sleep(10);
      throwIfAborted(run.signal);
      const result = summarize(rate, counters, sending.elapsedMs, spec.stepSeconds, serverCpuMs(target.serverPids));
      steps.push(result);
      log(`chat: offered ${rate}/s sent ${result.sentPerSecond}/s delivered ${result.deliveredPerSecond}/s p50 ${result.latencyMs.p50} ms p99 ${result.latencyMs.p99} ms lost ${result.lost}`);
      if (result.deliveredPerSecond < SATURATED_BELOW * rate) {
        log(`chat: saturated at offered ${rate}/s; stopping`);
        break;
      }
    }
    return {
      scenario: "chat",
      users: spec.users,
      steps,
      saturationPerSecond: Math.max(0, ...steps.map((s) => s.deliveredPerSecond)),
      failures,
    };
  } finally {
    step = undefined;
    await closeAll(login.clients);
  }
}

function summarize(offered: number, c: StepCounters, sendingMs: number, stepSeconds: number, cpuEndMs: number | undefined): ChatStep {
  // Delivered messages are counted over the step plus the drain; the rate is taken over the
  // step, or up to the last delivery when the server needed longer than the step to deliver.
  const windowMs = Math.max(stepSeconds * 1000, c.lastDeliveryMs - c.startedMs);
  const ms = (ns: number) => round(ns / 1e6, 3);
  return {
    offeredPerSecond: offered,
    sentPerSecond: round(c.sent / (Math.max(sendingMs, 1) / 1000), 1),
    deliveredPerSecond: round(c.delivered / (windowMs / 1000), 1),
    latencyMs: { p50: ms(c.latency.quantileNs(0.5)), p99: ms(c.latency.quantileNs(0.99)), max: ms(c.latency.maxNs) },
    lost: Math.max(0, c.sent - c.delivered),
    // CPU per message holds when the rate is the loader's or the machine is noisy: the figure to
    // compare two builds of one server by (docs/benchmarks.md)
    ...(c.cpuStartMs !== undefined && cpuEndMs !== undefined && c.delivered > 0 ? { serverCpuUsPerMessage: round(((cpuEndMs - c.cpuStartMs) * 1000) / c.delivered, 2) } : {}),
  };
}
