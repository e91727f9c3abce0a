/**
 * A cluster node's liveness in its own OS process, whose main thread a test can block on demand
 * (heartbeat-worker.test.ts): the real NodeLiveness and heartbeat worker on a real Redis, and a
 * synchronous busy loop standing for a storm of CPU work. Driven over stdin ("block <ms>"); says
 * "live", "unblocked <ready>" and "fenced" on stdout.
 *
 * Environment: REDIS_URL, PREFIX, NODE_ID, WORKER ("1": with the heartbeat worker), TTL_MS,
 * HEARTBEAT_MS, STALL_MS (the worker's mainStallMs).
 */
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { NodeLiveness } from "@switchboard/redis";

const env = process.env;
const redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: 1 });
redis.on("error", () => {});
const liveness = new NodeLiveness(redis, {
  nodeId: env.NODE_ID!,
  prefix: env.PREFIX!,
  ttlMs: Number(env.TTL_MS ?? 5000),
  heartbeatMs: Number(env.HEARTBEAT_MS ?? 1000),
  onPurged: () => {},
  onFenced: () => console.log("fenced"),
  heartbeatWorker: env.WORKER === "1" ? { redisUrl: env.REDIS_URL!, mainStallMs: env.STALL_MS ? Number(env.STALL_MS) : undefined } : undefined,
});
liveness.start();
await liveness.waitUntilReady(20_000);
console.log("live");

for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(" ");
  if (command === "block") {
    const until = Date.now() + Number(arg);
    while (Date.now() < until) {
      // the main thread does nothing else: no timer, no I/O callback, no message from the worker
    }
    // the worker's beats queued meanwhile are read before this timer fires
    await new Promise((resolve) => setTimeout(resolve, 100));
    console.log(`unblocked ${liveness.ready}`);
  } else if (command === "stop") {
    await liveness.stop();
    redis.disconnect();
    process.exit(0);
  }
}
