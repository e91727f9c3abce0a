import { storeContract } from "../../../../test/contracts/store-contract.js";
import { MemoryStore } from "./store.js";

storeContract("MemoryStore", () => new MemoryStore());
