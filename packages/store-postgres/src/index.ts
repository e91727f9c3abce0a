export { PostgresArchive, type PostgresArchiveOptions } from "./postgres-archive.js";
