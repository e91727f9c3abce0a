export { SqliteStore, SqliteStoreOpenError, openSqliteStore } from "./sqlite-store.js";
export { CURRENT_SCHEMA_VERSION, SchemaVersionError } from "./schema.js";
export { SqliteArchive } from "./sqlite-archive.js";
