import { describe, expect, it, vi } from "vitest";
import { rollingCommand } from "./index.js";

/** Runs the command with stderr captured; bad arguments never start a cluster. */
async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await rollingCommand(argv), stderr };
  } finally {
    spy.mockRestore();
  }
}

describe("pnpm bench rolling: bad arguments", () => {
  it.each([
    [["--clients", "ten"], /--clients: expected an integer from 2 to 5000, got "ten"/],
    [["--clients", "1"], /--clients: expected an integer from 2 to 5000/],
    [["--clients", "10", "--xmppjs", "10"], /--xmppjs: expected an integer from 0 to 9/],
    [["--mode", "restart,reboot"], /--mode: expected restart and\/or kill, got "reboot"/],
    [["--edges", "1"], /--edges: expected an integer from 2 to 10/],
    [["--drain", "0"], /--drain: expected an integer from 1 to 300/],
    [["--clinets", "5"], /Unknown option '--clinets'/],
  ])("%j is refused with exit 2 and the usage", async (argv, message) => {
    const { code, stderr } = await run(argv);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain("usage: pnpm bench rolling");
  });
});
