import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("createLogger", () => {
  it("writes JSON lines with child bindings such as conn", () => {
    const out = sink();
    const log = createLogger({ level: "info", format: "json" }, out.stream);
    log.child({ conn: "c1" }).info({ jid: "a@b" }, "bound");
    log.debug("hidden below level");
    const lines = out.text().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, conn: "c1", jid: "a@b", msg: "bound" });
  });

  it("honours the level", () => {
    const out = sink();
    createLogger({ level: "warn", format: "json" }, out.stream).info("no");
    createLogger({ level: "silent", format: "json" }, out.stream).fatal("no");
    expect(out.text()).toBe("");
  });

  it("pretty-prints in process (no worker transport)", () => {
    const out = sink();
    createLogger({ level: "info", format: "pretty" }, out.stream).child({ conn: "c9" }).warn("slow receiver");
    const text = out.text();
    expect(text).toContain("WARN");
    expect(text).toContain("slow receiver");
    expect(text).toContain("c9");
    expect(() => JSON.parse(text)).toThrow();
  });

  it("auto picks JSON when stdout is not a terminal", () => {
    const saved = process.stdout.isTTY;
    try {
      (process.stdout as { isTTY?: boolean }).isTTY = false;
      const out = sink();
      createLogger({ level: "info", format: "auto" }, out.stream).info("x");
      expect(JSON.parse(out.text())).toMatchObject({ msg: "x" });
      (process.stdout as { isTTY?: boolean }).isTTY = true;
      const pretty = sink();
      createLogger({ level: "info", format: "auto" }, pretty.stream).info("x");
      expect(() => JSON.parse(pretty.text())).toThrow();
    } finally {
      (process.stdout as { isTTY?: boolean }).isTTY = saved;
    }
  });
});
