/** Parsing and printing for the admin commands: durations, and plain-text tables. */
import { UsageError } from "../errors.js";

/** A DURATION: seconds, or a number with s, m, h or d ("90", "90s", "15m", "2h", "7d"); in seconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  const n = m ? Number(m[1]) * ({ "": 1, s: 1, m: 60, h: 3600, d: 86_400 } as Record<string, number>)[m[2]!]! : NaN;
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`${option} must be a duration: seconds, or a number with s, m, h or d (e.g. 90, 15m, 2h, 7d), got "${text}"`);
  return n;
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"));
  return cells.map((r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}
