/** `switchboard user add|passwd|del|list`: account administration on the local store. */
import { AccountExistsError, AccountNotFoundError } from "@switchboard/core";
import { deriveCredentials, SaslPrepError } from "@switchboard/sasl";
import { CommandError, UsageError } from "../errors.js";
import { println, type CliIo } from "../io.js";
import { parseAccountJid } from "../jid.js";
import { loadCliConfig, type GlobalOptions } from "../options.js";
import { readPassword } from "../password.js";
import { withStore } from "../store.js";
import { importUsers } from "./user-import.js";

export async function userCommand(args: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "add":
      return addUser(await expectJidArgs("user add <jid> [password]", rest, 2, options, io), options, io);
    case "passwd":
      return changePassword(await expectJidArgs("user passwd <jid> [password]", rest, 2, options, io), options, io);
    case "del":
      return deleteUser(await expectJidArgs("user del <jid>", rest, 1, options, io), options, io);
    case "list":
      return listUsers(expectArgs("user list", rest, 0, 0), options, io);
    case "import":
      return importUsers(expectArgs("user import [file]", rest, 0, 1), options, io);
    case undefined:
      throw new UsageError("user: missing subcommand (add, passwd, del, list, import)");
    default:
      throw new UsageError(`user: unknown subcommand "${sub}" (add, passwd, del, list, import)`);
  }
}

/**
 * For commands taking a JID first: when the argument count is wrong, say what is wrong with the
 * JID if that is the cause (`user add not a jid` is one JID with spaces, not three arguments),
 * and only otherwise print the usage line.
 */
async function expectJidArgs(usage: string, args: string[], max: number, options: GlobalOptions, io: CliIo): Promise<string[]> {
  if (args.length >= 1 && args.length <= max) return args;
  if (args.length > max) {
    const config = await loadCliConfig(options, io);
    try {
      parseAccountJid(args[0]!, config.domain);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      throw new UsageError(`${err.message}; a JID has no spaces (got ${args.length} arguments: "${args.join(" ")}")`);
    }
  }
  throw new UsageError(`usage: switchboard ${usage}`);
}

function expectArgs(usage: string, args: string[], min: number, max: number): string[] {
  if (args.length < min || args.length > max) throw new UsageError(`usage: switchboard ${usage}`);
  return args;
}

async function addUser([jidText, given]: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const config = await loadCliConfig(options, io);
  const jid = parseAccountJid(jidText!, config.domain);
  return withStore(config, async (store) => {
    // Checked before asking for the password so nobody types one in vain; create() re-checks.
    if (await store.accounts.exists(jid)) throw new CommandError(`user ${jid} already exists`);
    const credentials = credentialsFor(await passwordFrom(given, io), options.iterations);
    try {
      await store.accounts.create(jid, credentials);
    } catch (err) {
      if (err instanceof AccountExistsError) throw new CommandError(`user ${jid} already exists`, { cause: err });
      throw err;
    }
    println(io.stdout, `created ${jid}`);
    return 0;
  });
}

async function changePassword([jidText, given]: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const config = await loadCliConfig(options, io);
  const jid = parseAccountJid(jidText!, config.domain);
  return withStore(config, async (store) => {
    if (!(await store.accounts.exists(jid))) throw new CommandError(`user ${jid} does not exist`);
    const credentials = credentialsFor(await passwordFrom(given, io), options.iterations);
    try {
      await store.accounts.setCredentials(jid, credentials);
    } catch (err) {
      if (err instanceof AccountNotFoundError) throw new CommandError(`user ${jid} does not exist`, { cause: err });
      throw err;
    }
    println(io.stdout, `password changed for ${jid}`);
    return 0;
  });
}

async function deleteUser([jidText]: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const config = await loadCliConfig(options, io);
  const jid = parseAccountJid(jidText!, config.domain);
  return withStore(config, async (store) => {
    if (!(await store.accounts.delete(jid))) throw new CommandError(`user ${jid} does not exist`);
    println(io.stdout, `deleted ${jid}`);
    return 0;
  });
}

async function listUsers(_args: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const config = await loadCliConfig(options, io);
  return withStore(config, async (store) => {
    for (const jid of await store.accounts.list()) println(io.stdout, jid);
    return 0;
  });
}

async function passwordFrom(given: string | undefined, io: CliIo): Promise<string> {
  if (given === undefined) return readPassword(io);
  if (given === "") throw new UsageError("empty password");
  return given;
}

function credentialsFor(password: string, iterations?: number) {
  try {
    return deriveCredentials(password, { iterations });
  } catch (err) {
    // RFC 8265 OpaqueString: e.g. control characters are not allowed in passwords.
    if (err instanceof SaslPrepError) throw new UsageError(`invalid password: ${err.message}`, { cause: err });
    throw err;
  }
}
