/**
 * `switchboard user import [file]`: bulk account creation, one "jid password" pair per line
 * (stdin when no file). Blank lines and # comments are skipped; a bad line is reported with its
 * number and the import carries on. Key derivation (PBKDF2, the slow part) runs on the libuv
 * thread pool in batches, and each batch is written with one createMany (one transaction).
 */
import { createReadStream } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import type { AccountCredentials, AccountStore } from "@switchboard/core";
import { AccountExistsError } from "@switchboard/core";
import { deriveCredentialsAsync } from "@switchboard/sasl";
import { CommandError } from "../errors.js";
import { println, type CliIo } from "../io.js";
import { parseAccountJid } from "../jid.js";
import { loadCliConfig, type GlobalOptions } from "../options.js";
import { withStore } from "../store.js";

const BATCH_SIZE = 64;

interface PendingAccount {
  line: number;
  bare: string;
  password: string;
}

interface ImportSummary {
  created: number;
  existed: number;
  bad: number;
}

export async function importUsers([file]: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const config = await loadCliConfig(options, io);
  const input = file === undefined ? io.stdin : await openInput(resolve(io.cwd, file));
  const summary: ImportSummary = { created: 0, existed: 0, bad: 0 };
  const reportBad = (line: number, reason: string) => {
    summary.bad++;
    println(io.stderr, `switchboard: line ${line}: ${reason}`);
  };

  await withStore(config, async (store) => {
    let batch: PendingAccount[] = [];
    let lineNumber = 0;
    for await (const rawLine of createInterface({ input, crlfDelay: Infinity })) {
      lineNumber++;
      const line = rawLine.trim();
      if (line === "" || line.startsWith("#")) continue;
      const match = /^(\S+)\s+(.+)$/.exec(line);
      if (!match) {
        reportBad(lineNumber, "expected \"jid password\"");
        continue;
      }
      try {
        batch.push({ line: lineNumber, bare: parseAccountJid(match[1]!, config.domain), password: match[2]! });
      } catch (err) {
        reportBad(lineNumber, (err as Error).message);
        continue;
      }
      if (batch.length >= BATCH_SIZE) {
        await writeBatch(options.iterations, store.accounts, batch, summary, reportBad);
        batch = [];
      }
    }
    await writeBatch(options.iterations, store.accounts, batch, summary, reportBad);
  });

  println(io.stdout, `created ${summary.created}, existed ${summary.existed}, bad ${summary.bad}`);
  return summary.bad > 0 ? 1 : 0;
}

async function openInput(path: string): Promise<NodeJS.ReadableStream> {
  const stream = createReadStream(path);
  // Surface a missing file as one clear error before anything is read.
  await new Promise<void>((ready, fail) => {
    stream.once("open", () => ready());
    stream.once("error", (err) => fail(new CommandError(`cannot read ${path}: ${err.message}`, { cause: err })));
  });
  return stream;
}

async function writeBatch(
  iterations: number | undefined,
  accounts: AccountStore,
  batch: PendingAccount[],
  summary: ImportSummary,
  reportBad: (line: number, reason: string) => void,
): Promise<void> {
  const derived = await Promise.all(
    batch.map(async (entry) => {
      try {
        return { entry, credentials: await deriveCredentialsAsync(entry.password, { iterations }) };
      } catch (err) {
        reportBad(entry.line, `invalid password: ${(err as Error).message}`);
        return undefined;
      }
    }),
  );
  const ready = derived.filter((d): d is { entry: PendingAccount; credentials: AccountCredentials } => d !== undefined);
  const results = accounts.createMany
    ? await accounts.createMany(ready.map(({ entry, credentials }) => ({ bare: entry.bare, credentials })))
    : await createOneByOne(accounts, ready);
  for (const result of results) {
    if (result === "created") summary.created++;
    else summary.existed++;
  }
}

async function createOneByOne(
  accounts: AccountStore,
  ready: Array<{ entry: PendingAccount; credentials: AccountCredentials }>,
): Promise<Array<"created" | "exists">> {
  const results: Array<"created" | "exists"> = [];
  for (const { entry, credentials } of ready) {
    try {
      await accounts.create(entry.bare, credentials);
      results.push("created");
    } catch (err) {
      if (!(err instanceof AccountExistsError)) throw err;
      results.push("exists");
    }
  }
  return results;
}
