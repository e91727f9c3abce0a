/**
 * muc: fan-out of one XEP-0045 room. `occupants` users log in and enter room@conference.<domain>
 * (user 0 creates it as an instant room, §10.1.2; the rest enter with bounded concurrency and
 * count once their self-presence, status 110, arrives); then `senders` of them send groupchat
 * messages (§7.4), which the room copies to every occupant, the sender included.
 *
 * Phases, on the same room:
 *  - saturation: closed loop, the senders keep `window` messages each in flight
 *    (sent minus delivered copies ÷ occupants) for `saturationSeconds`: as fast as the server
 *    delivers, never an unbounded queue;
 *  - one step per entry of `rates`, paced at that many messages/s ("half": half of the
 *    saturation just measured, in messages), for the latency from send to receipt.
 * Each body carries the send time (µs, this process's clock) and a sequence number; a copy
 * counts for the phase it was sent in. Every phase ends with a drain of at most DRAIN_MS, and
 * starts once the server is quiet (waitForQuietServer): what the joins or an earlier run left it
 * to do is not measured with the phase.
 */
import { randomBytes } from "node:crypto";
import { escapeXml, type Element } from "@switchboard/xml";
import type { LoadClient } from "../client.js";
import type { LoadClientError } from "../errors.js";
import { closeAll, every, loginMany, pace, sleep, throwIfAborted, waitForQuietServer, type RunOptions } from "../pool.js";
import { LatencyHistogram, countFailure, round, serverCpuMs } from "../stats.js";
import type { Failures, MucResult, MucSpec, MucStep, Target } from "../types.js";
import { MucJoinError, RoomOccupant, stanzaErrorCondition } from "./muc-room.js";

const LOGIN_CONCURRENCY = 100;
const JOIN_CONCURRENCY = 25;
const JOIN_TIMEOUT_MS = 30_000;
/**
 * Messages each sender keeps in flight during the saturation phase (MucSpec.window): enough that
 * the server never waits for the next one (a loopback round trip is ~0.1 ms, one message is
 * hundreds of copies), few enough that the queue in front of the room stays short.
 */
export const MUC_DEFAULT_WINDOW = 4;
const DRAIN_MS = 5_000;

class PhaseCounters {
  sent = 0;
  delivered = 0;
  late = 0;
  lastDeliveryMs = 0;
  readonly latency = new LatencyHistogram();
  /** latency of each message's first copy: how soon the room started its fan-out */
  readonly firstCopyLatency = new LatencyHistogram();
  /** messages of this phase seen at least once, by seq - firstSeq (grown by doubling) */
  private seen = new Uint8Array(1024);
  readonly perOccupant: Uint32Array;
  constructor(
    readonly firstSeq: number,
    readonly startedMs: number,
    joined: number,
  ) {
    this.perOccupant = new Uint32Array(joined);
  }

  /** true the first time a copy of message `seq` arrives */
  firstCopy(seq: number): boolean {
    const i = seq - this.firstSeq;
    if (i >= this.seen.length) {
      const grown = new Uint8Array(Math.max(this.seen.length * 2, i + 1));
      grown.set(this.seen);
      this.seen = grown;
    }
    if (this.seen[i]) return false;
    this.seen[i] = 1;
    return true;
  }
}

export async function runMuc(target: Target, spec: MucSpec, run: RunOptions): Promise<MucResult> {
  const log = run.log ?? (() => undefined);
  const failures: Failures = {};
  const room = `${spec.room ?? `bench-${randomBytes(4).toString("hex")}`}@conference.${target.domain}`;
  const roomAttr = escapeXml(room);
  const occupants = new Map<LoadClient, RoomOccupant>();
  let phase: PhaseCounters | undefined;
  /** during the saturation phase: tops the senders' window up again */
  let refill: (() => void) | undefined;

  const onStanza = (el: Element, client: LoadClient) => {
    const occupant = occupants.get(client);
    if (!occupant) return;
    if (el.name !== "message") return occupant.onStanza(el);
    if (el.attrs.type === "error") return countFailure(failures, `message-error:${stanzaErrorCondition(el)}`);
    if (el.attrs.type !== "groupchat" || phase === undefined || occupant.slot < 0) return;
    const body = el.getChildText("body");
    const space = body?.indexOf(" ") ?? -1;
    if (!body || space < 0) return; // the subject, or anything not ours
    const seq = Number(body.slice(space + 1));
    if (seq < phase.firstSeq) {
      phase.late++;
      return;
    }
    const now = performance.now();
    phase.delivered++;
    phase.perOccupant[occupant.slot]!++;
    phase.lastDeliveryMs = now;
    const latencyNs = (now * 1000 - Number(body.slice(0, space))) * 1000;
    phase.latency.record(latencyNs);
    if (phase.firstCopy(seq)) phase.firstCopyLatency.record(latencyNs);
    refill?.();
  };
  const onClose = (err: LoadClientError) => {
    countFailure(failures, `dropped:${err.kind}`);
  };

  let loggedIn = 0;
  const stopLoginProgress = every(1000, () => log(`muc: logging in, ${loggedIn}/${spec.occupants}`));
  const login = await loginMany(target, spec.occupants, LOGIN_CONCURRENCY, run, { onStanza, onClose, onProgress: (n) => (loggedIn = n) }).finally(stopLoginProgress);
  Object.assign(failures, login.failures);
  try {
    throwIfAborted(run.signal);
    // loginMany finishes in any order: the room's owner is user 0, the senders users 0 .. senders-1
    const userIndex = (jid: string) => Number(jid.slice(target.userPrefix.length, jid.indexOf("@")));
    const byUser = login.clients.map((c) => ({ client: c, index: userIndex(c.jid) })).sort((a, b) => a.index - b.index);
    for (const { client, index } of byUser) occupants.set(client, new RoomOccupant(client, room, `o${index}`));
    const members = [...occupants.values()];
    const owner = members[0];
    if (!owner || byUser[0]!.index !== 0) throw new MucJoinError("login", `the room's owner (user 0) could not log in (failures: ${JSON.stringify(failures)})`);

    const joinStarted = performance.now();
    if (await owner.join(JOIN_TIMEOUT_MS)) await owner.submitInstantRoomForm(JOIN_TIMEOUT_MS);
    let joinedCount = 1;
    const stopJoinProgress = every(1000, () => log(`muc: entering ${room}, ${joinedCount}/${members.length}`));
    let next = 1;
    const joiner = async () => {
      while (next < members.length && !run.signal?.aborted) {
        const m = members[next++]!;
        try {
          await m.join(JOIN_TIMEOUT_MS);
          joinedCount++;
        } catch (err) {
          countFailure(failures, `join:${err instanceof MucJoinError ? err.condition : "closed"}`);
        }
      }
    };
    await Promise.all(Array.from({ length: JOIN_CONCURRENCY }, joiner)).finally(stopJoinProgress);
    throwIfAborted(run.signal);
    const joined = members.filter((m) => m.joined && m.client.isOnline);
    joined.forEach((m, slot) => (m.slot = slot));
    const joinSeconds = round((performance.now() - joinStarted) / 1000, 3);
    const senders = joined.slice(0, spec.senders);
    if (joined.length < 2 || senders.length < spec.senders) {
      throw new MucJoinError("join", `only ${joined.length}/${spec.occupants} occupants entered ${room} (failures: ${JSON.stringify(failures)})`);
    }
    log(`muc: ${joined.length}/${spec.occupants} in ${room} after ${joinSeconds} s; ${senders.length} senders`);

    let seq = 0;
    let turn = 0;
    const sendOne = (counters: PhaseCounters) => {
      const sender = senders[turn++ % senders.length]!;
      sender.client.sendStanza(`<message type='groupchat' to='${roomAttr}'><body>${Math.round(performance.now() * 1000)} ${seq++}</body></message>`);
      counters.sent++;
    };
    const measure = async (offered: number | null, body: (c: PhaseCounters) => Promise<number>): Promise<MucStep> => {
      const waited = await waitForQuietServer(target.serverPids, { signal: run.signal });
      if (waited > 1000) log(`muc: waited ${round(waited / 1000, 1)} s for the server to be quiet`);
      throwIfAborted(run.signal);
      const cpuBefore = serverCpuMs(target.serverPids);
      const loaderBefore = process.cpuUsage();
      const counters = new PhaseCounters(seq, performance.now(), joined.length);
      phase = counters;
      const sendingMs = await body(counters);
      const expected = () => counters.sent * joined.length;
      const drainUntil = performance.now() + DRAIN_MS;
      while (counters.delivered < expected() && performance.now() < drainUntil && !run.signal?.aborted) await sleep(10);
      throwIfAborted(run.signal);
      const cpuAfter = serverCpuMs(target.serverPids);
      const cpuSeconds = cpuBefore !== undefined && cpuAfter !== undefined ? (cpuAfter - cpuBefore) / 1000 : undefined;
      const loader = process.cpuUsage(loaderBefore);
      const wallMs = Math.max(1, performance.now() - counters.startedMs);
      return summarize(offered, counters, sendingMs, spec, cpuSeconds, (loader.user + loader.system) / 1000 / wallMs, wallMs);
    };

    let saturation: MucStep | undefined;
    if (spec.saturationSeconds > 0) {
      const window = (spec.window ?? MUC_DEFAULT_WINDOW) * senders.length;
      saturation = await measure(null, async (c) => {
        const started = performance.now();
        // event-driven: each copy received may free room in the window (no polling loop)
        refill = () => {
          while (c.sent - c.delivered / joined.length < window) sendOne(c);
        };
        refill();
        await sleep(spec.saturationSeconds * 1000, run.signal);
        refill = undefined;
        return performance.now() - started;
      });
      log(`muc: saturation ${saturation.deliveredPerSecond} copies/s (${saturation.sentPerSecond} msg/s sent) p99 ${saturation.latencyMs.p99} ms lost ${saturation.lostCopies}${cpuNote(saturation)}`);
    }
    const steps: MucStep[] = [];
    for (const rate of spec.rates) {
      const offered = rate === "half" ? round((saturation?.deliveredPerSecond ?? 0) / joined.length / 2, 1) : rate;
      if (!(offered > 0)) throw new Error(`muc: rate "half" needs a saturation phase (got ${saturation?.deliveredPerSecond ?? "none"})`);
      const step = await measure(offered, async (c) => (await pace({ rate: offered, durationMs: spec.stepSeconds * 1000, signal: run.signal, emit: (n) => { for (let i = 0; i < n; i++) sendOne(c); } })).elapsedMs);
      steps.push(step);
      log(`muc: offered ${offered} msg/s (${round(offered * joined.length, 0)} copies/s) delivered ${step.deliveredPerSecond}/s p50 ${step.latencyMs.p50} ms p99 ${step.latencyMs.p99} ms lost ${step.lostCopies}${cpuNote(step)}`);
    }
    return {
      scenario: "muc",
      occupants: spec.occupants,
      joined: joined.length,
      senders: senders.length,
      joinSeconds,
      ...(saturation ? { saturation } : {}),
      steps,
      saturationPerSecond: saturation?.deliveredPerSecond ?? 0,
      failures,
    };
  } finally {
    phase = undefined;
    await closeAll(login.clients);
  }
}

function summarize(offered: number | null, c: PhaseCounters, sendingMs: number, spec: MucSpec, cpuSeconds: number | undefined, loaderCpuShare: number, wallMs: number): MucStep {
  // Copies count over the phase and its drain. Saturation: the rate up to the last copy (the
  // window still in flight when sending stopped is part of the work). Fixed rate: as chat, over
  // the step, or up to the last copy when the server needed longer.
  const stepMs = offered === null ? 0 : spec.stepSeconds * 1000;
  const windowMs = Math.max(stepMs, c.lastDeliveryMs - c.startedMs, 1);
  const ms = (ns: number) => round(ns / 1e6, 3);
  const expectedEach = c.sent;
  let missing = 0;
  for (const n of c.perOccupant) if (n < expectedEach) missing++;
  const step: MucStep = {
    offeredPerSecond: offered,
    sentPerSecond: round(c.sent / (Math.max(sendingMs, 1) / 1000), 1),
    deliveredPerSecond: round(c.delivered / (windowMs / 1000), 1),
    sent: c.sent,
    delivered: c.delivered,
    lostCopies: Math.max(0, c.sent * c.perOccupant.length - c.delivered),
    occupantsMissingCopies: missing,
    latencyMs: { p50: ms(c.latency.quantileNs(0.5)), p99: ms(c.latency.quantileNs(0.99)), max: ms(c.latency.maxNs) },
    firstCopyLatencyMs: { p50: ms(c.firstCopyLatency.quantileNs(0.5)), p99: ms(c.firstCopyLatency.quantileNs(0.99)) },
    loaderCpuShare: round(loaderCpuShare, 2),
  };
  if (cpuSeconds !== undefined && cpuSeconds > 0) {
    step.serverCpuSeconds = round(cpuSeconds, 2);
    step.deliveredPerServerCpuSecond = round(c.delivered / cpuSeconds, 0);
    step.serverCpuShare = round(cpuSeconds / (wallMs / 1000), 2);
  }
  return step;
}

function cpuNote(s: MucStep): string {
  const server = s.deliveredPerServerCpuSecond === undefined ? "" : `, ${s.deliveredPerServerCpuSecond} copies per server CPU second, server CPU ${Math.round((s.serverCpuShare ?? 0) * 100)} %`;
  return `${server}, loader CPU ${Math.round(s.loaderCpuShare * 100)} %`;
}
