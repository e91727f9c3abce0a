import { afterAll, beforeAll } from "vitest";
import type { Redis } from "ioredis";
import { roomDirectoryContract } from "../../../../test/contracts/room-directory-contract.js";
import { connectTestRedis, type TestRedis } from "../registry/test-support.js";
import { RedisRoomDirectory } from "./redis-room-directory.js";

let test: TestRedis;
let client: Redis;
beforeAll(async () => {
  test = await connectTestRedis();
  client = await test.client();
});
afterAll(async () => test?.cleanup());

roomDirectoryContract("redis", () => new RedisRoomDirectory(client, { prefix: test.prefix() }));
