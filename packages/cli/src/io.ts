/**
 * The process surface a command uses, passed in rather than read from globals so commands can
 * run in-process in tests and the entry point stays a one-liner.
 */
export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

export function println(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}
