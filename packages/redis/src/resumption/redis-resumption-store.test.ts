import { afterAll, beforeAll } from "vitest";
import type { Redis } from "ioredis";
import { resumptionContract } from "../../../../test/contracts/resumption-contract.js";
import { connectTestRedis, type TestRedis } from "../registry/test-support.js";
import { RedisResumptionStore } from "./redis-resumption-store.js";

let test: TestRedis;
let client: Redis;
beforeAll(async () => {
  test = await connectTestRedis();
  client = await test.client();
});
afterAll(async () => test?.cleanup());

resumptionContract("redis", () => new RedisResumptionStore(client, { prefix: test.prefix() }));
