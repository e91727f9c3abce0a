export { RedisRoomDirectory } from "./redis-room-directory.js";
