/**
 * Password input for `user add` / `user passwd` when it is not on the command line: a no-echo
 * prompt on a terminal, otherwise the first line of stdin (so scripts can pipe it and keep it out
 * of `ps` output and shell history).
 */
import { CommandError, UsageError } from "./errors.js";
import type { CliIo } from "./io.js";

export async function readPassword(io: CliIo, prompt = "Password: "): Promise<string> {
  const password = io.stdin.isTTY && io.stdin.setRawMode ? await promptWithoutEcho(io, prompt) : firstLine(await readAll(io.stdin));
  if (password === "") throw new UsageError("empty password");
  return password;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return (end === -1 ? text : text.slice(0, end)).replace(/\r$/, "");
}

function promptWithoutEcho(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write(prompt);
  stdin.setRawMode!(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const finish = (error?: Error) => {
      stdin.removeListener("data", onData);
      stdin.setRawMode!(false);
      stdin.pause();
      io.stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return finish();
        if (ch === "\u0003") return finish(new CommandError("interrupted"));
        if (ch === "\u007f" || ch === "\b") typed = [...typed].slice(0, -1).join("");
        else typed += ch;
      }
    };
    stdin.on("data", onData);
  });
}
