/** The in-memory registry passes the same contract as the Redis one: both route identically. */
import { MemorySessionRegistry } from "@switchboard/core";
import { registryContract } from "./registry-contract.js";

registryContract("MemorySessionRegistry", () => new MemorySessionRegistry());
