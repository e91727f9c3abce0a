/**
 * What archiving costs per chat message, in CPU time of the whole process (main thread and the
 * archive's worker thread): the default modules routing 1:1 chat between 200 bound resources
 * in process (packages/modules testing harness: no sockets, no TLS, so the base is smaller than
 * a real node's and the ratio is an upper bound), without and with the mam module on a real
 * `archive.sqlite` worker, arms alternating, medians of ROUNDS.
 *
 *   node --conditions=source --import tsx scripts/mam-cost.mts [ROUNDS] [MESSAGES]
 *
 * CPU time rather than wall time, so other load on the machine skews it less.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MODULES, mamModule } from "@switchboard/modules";
import { SqliteArchive } from "@switchboard/store-sqlite";
import { createTestHost } from "../packages/modules/src/testing/harness.js";

const ROUNDS = Number(process.argv[2] ?? 5);
const MESSAGES = Number(process.argv[3] ?? 40_000);
const USERS = 200;

async function round(withArchive: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "sb-mam-cost-"));
  const archive = withArchive ? new SqliteArchive(join(dir, "archive.sqlite"), { maxPerOwner: 100_000, retentionDays: 0 }) : undefined;
  const t = await createTestHost(archive ? [...DEFAULT_MODULES, mamModule(archive)] : [...DEFAULT_MODULES]);
  const users = [];
  for (let i = 0; i < USERS; i++) users.push(await t.login(`u${i}@localhost/r`));
  for (const u of users) await u.sendAsClient("<presence/>");
  const send = async (i: number) =>
    users[i % USERS]!.sendAsClient(`<message to='u${(i * 7 + 1) % USERS}@localhost/r' type='chat' id='m${i}'><body>benchmark message number ${i}</body></message>`);
  for (let i = 0; i < 5000; i++) await send(i); // warm up (JIT, caches, the archive's first counts)
  await archive?.flush();
  for (const u of users) u.sent.length = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i++) {
    await send(i);
    if (i % 2000 === 0) for (const u of users) u.sent.length = 0;
  }
  await archive?.flush(); // the worker's share of these messages is in
  const used = process.cpuUsage(start);
  await t.stop();
  await archive?.close();
  rmSync(dir, { recursive: true, force: true });
  return (used.user + used.system) / MESSAGES;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const off: number[] = [];
const on: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  off.push(await round(false));
  on.push(await round(true));
  console.log(`round ${r + 1}: off ${off.at(-1)!.toFixed(1)} µs/msg, on ${on.at(-1)!.toFixed(1)} µs/msg`);
}
console.log(`median: off ${median(off).toFixed(1)} µs/msg, on ${median(on).toFixed(1)} µs/msg, on/off ${(median(on) / median(off)).toFixed(3)}`);
