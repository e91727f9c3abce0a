import { roomDirectoryContract } from "../../../../test/contracts/room-directory-contract.js";
import { MemoryRoomDirectory } from "./room-directory.js";

roomDirectoryContract("memory", () => new MemoryRoomDirectory());
