/**
 * `switchboard tap JID [--json] [--redact-bodies] [--for DURATION]`: every stanza to and from
 * a user, live from every node, until Ctrl-C or the duration (docs/admin.md). The nodes publish
 * the user's traffic only while someone taps them (core tap.ts), and log each start and stop.
 */
import type { TapEvent } from "@switchboard/core";
import { UsageError } from "../errors.js";
import { println, type CliIo } from "../io.js";
import { loadCliConfig, type GlobalOptions } from "../options.js";
import { connectAdmin } from "../admin/connection.js";
import { parseDuration } from "../admin/format.js";
import { adminJid } from "../jid.js";
import { interrupted, withAdmin } from "./admin.js";

export async function tapCommand(args: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const cfg = await loadCliConfig(options, io);
  if (args.length !== 1) throw new UsageError("usage: switchboard tap JID [--json] [--redact-bodies] [--for DURATION]");
  const jid = adminJid(args[0]!, cfg.domain);
  const forSeconds = options.for === undefined ? undefined : parseDuration(options.for, "--for");
  const bare = jid.split("/")[0]!;
  return withAdmin(await connectAdmin(cfg, options, io), async (api) => {
    const sessions = await api.sessions(jid);
    if (sessions.length === 0) println(io.stderr, `switchboard: ${jid} has no session now; waiting for one (Ctrl-C to stop)`);
    const stop = interrupted();
    const controller = new AbortController();
    stop.signal.addEventListener("abort", () => controller.abort(), { once: true });
    const timer = forSeconds ? setTimeout(() => controller.abort(), forSeconds * 1000) : undefined;
    try {
      await api.tap(bare, (event) => {
        if (jid.includes("/") && event.jid !== jid) return;
        println(io.stdout, render(event, options));
      }, controller.signal);
    } finally {
      clearTimeout(timer);
      stop.dispose();
    }
    return 0;
  });
}

function render(event: TapEvent, options: GlobalOptions): string {
  const xml = options.redactBodies ? redactBodies(event.xml) : event.xml;
  const size = Buffer.byteLength(event.xml);
  const time = new Date(event.at).toISOString();
  if (options.json) return JSON.stringify({ time, direction: event.direction, node: event.node, jid: event.jid, size, xml });
  return `${time} ${event.direction === "in" ? "<-" : "->"} ${event.direction.padEnd(3)} ${event.node} ${event.jid} ${size} B\n  ${xml}`;
}

/** Every <body>…</body> replaced by the length of what it held. */
export function redactBodies(xml: string): string {
  return xml.replace(/<body(\s[^>]*)?>([\s\S]*?)<\/body>/g, (_m, attrs: string | undefined, text: string) => `<body${attrs ?? ""}>[${Buffer.byteLength(text)} bytes]</body>`);
}
