/**
 * The embedded XEP-0313 archive: `<dataDir>/archive.sqlite`, its own file, written by a worker
 * thread (archive-worker.ts). Appends are buffered and go to the thread as one message every
 * HAND_OVER_MS (or at HAND_OVER_ROWS rows); the thread commits what it holds every COMMIT_MS
 * (or at COMMIT_ROWS). Each commit rewrites every page it touched, and a chat load spreads rows
 * over many owners' pages: per-tick transactions of a few rows cost ~30 µs of CPU a row, and
 * under the benchmark's chat the thread took a fifth of the core at 20 ms commits. The delivery
 * path never waits. A query first hands over what is buffered and the thread commits before
 * answering, so it sees every message archived before it was asked. A crash loses at most the
 * last COMMIT_MS + HAND_OVER_MS of archive (the messages themselves were delivered).
 */
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";
import {
  ArchiveItemNotFound,
  DEFAULT_ARCHIVE_PREFS,
  messageIdOf,
  type ArchiveLimits,
  type ArchivePage,
  type ArchivePrefs,
  type ArchiveQuery,
  type ArchiveStore,
  type ArchivedMessage,
} from "@switchboard/core";
import { ARCHIVE_WORKER_SOURCE } from "./archive-worker.js";

/** how long appends wait to be handed over at most */
const HAND_OVER_MS = 50;
/** a buffer this big goes at once */
const HAND_OVER_ROWS = 2000;
/** how often the thread commits what it was handed, at most */
const COMMIT_MS = 500;
const COMMIT_ROWS = 20_000;

interface Reply {
  id?: number;
  ok: boolean;
  value?: unknown;
  message?: string;
  itemNotFound?: string;
}

export class SqliteArchive implements ArchiveStore {
  private readonly worker: Worker;
  private buffered: ArchivedMessage[] = [];
  private timer?: NodeJS.Timeout;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closing?: Promise<void>;
  /** what went wrong with a fire-and-forget append, for the owner's log */
  onError: (message: string) => void = () => {};

  constructor(file: string, limits: ArchiveLimits) {
    mkdirSync(dirname(file), { recursive: true });
    const sqlitePath = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(ARCHIVE_WORKER_SOURCE, {
      eval: true,
      workerData: { sqlitePath, file, maxPerOwner: limits.maxPerOwner, retentionDays: limits.retentionDays, commitMs: COMMIT_MS, commitRows: COMMIT_ROWS },
      execArgv: [],
    });
    this.worker.on("message", (m: Reply) => {
      if (m.id === undefined) {
        if (!m.ok) this.onError(m.message ?? "archive write failed");
        return;
      }
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (!w) return;
      if (m.ok) w.resolve(m.value);
      else w.reject(m.itemNotFound !== undefined ? new ArchiveItemNotFound(m.itemNotFound) : new Error(m.message));
    });
    const fail = (err: Error) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", () => fail(new Error("archive thread exited")));
  }

  append(messages: ArchivedMessage[]): void {
    if (this.closing) return;
    for (const m of messages) this.buffered.push(m);
    if (this.buffered.length >= HAND_OVER_ROWS) return this.handOver();
    if (this.timer) return;
    this.timer = setTimeout(() => this.handOver(), HAND_OVER_MS);
    this.timer.unref();
  }

  private handOver(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffered.length === 0) return;
    const rows = this.buffered;
    this.buffered = [];
    this.worker.postMessage({ op: "append", args: [rows] });
  }

  private call<T>(op: string, ...args: unknown[]): Promise<T> {
    if (this.closing) return Promise.reject(new Error("archive closed"));
    this.handOver();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ op, id, args });
    });
  }

  query(q: ArchiveQuery): Promise<ArchivePage> {
    return this.call("query", q);
  }

  replace(owner: string, id: string, xml: string): Promise<boolean> {
    return this.call("replace", owner, id, xml);
  }

  async findByMessageId(owner: string, withBare: string, messageId: string): Promise<ArchivedMessage | undefined> {
    // Recent messages with that party, newest first: a retraction names a recent message.
    const rows = await this.call<ArchivedMessage[]>("byWith", owner, withBare);
    return rows.find((r) => messageIdOf(r.xml) === messageId);
  }

  async getPrefs(owner: string): Promise<ArchivePrefs> {
    return (await this.call<ArchivePrefs | undefined>("getPrefs", owner)) ?? DEFAULT_ARCHIVE_PREFS;
  }

  setPrefs(owner: string, prefs: ArchivePrefs): Promise<void> {
    return this.call("setPrefs", owner, prefs);
  }

  removeOwner(owner: string): Promise<void> {
    return this.call("removeOwner", owner);
  }

  async flush(): Promise<void> {
    await this.call("flush");
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.handOver();
      const id = this.nextId++;
      const closed = new Promise<void>((resolve) => {
        this.waiting.set(id, { resolve: () => resolve(), reject: () => resolve() });
        this.worker.once("exit", () => resolve());
      });
      this.worker.postMessage({ op: "close", id });
      await closed;
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
