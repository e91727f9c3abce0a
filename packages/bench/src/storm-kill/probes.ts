/**
 * What the storm-kill run reads from the servers while the storm lasts, all from outside:
 * - peak resident memory of each server process: VmHWM in /proc/<pid>/status (the kernel's own
 *   high-water mark, so no peak between two samples is missed), read when the storm is over;
 * - the edges' event-loop lag: their /metrics gauge `switchboard_event_loop_lag_seconds` (p99 of
 *   the loop's delay since the previous scrape, packages/server/src/metrics/process-metrics.ts),
 *   scraped every LAG_SCRAPE_MS; the report gives the largest of those p99s. A scrape that fails
 *   (the edge is down or starting) is counted, not fatal;
 * - Redis commands: `total_commands_processed` of INFO stats on the bench's own redis-server,
 *   before the kill and once all are online again.
 */
import { readFileSync } from "node:fs";
import net from "node:net";

const LAG_SCRAPE_MS = 500;

/** VmHWM (peak RSS) of a process in bytes; undefined when it cannot be read. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The gauge's value in a Prometheus text page (the largest, if it comes with several label sets). */
export function parseLagSeconds(text: string): number | undefined {
  let max: number | undefined;
  for (const m of text.matchAll(/^switchboard_event_loop_lag_seconds(?:\{[^}]*\})? ([0-9.eE+-]+)/gm)) {
    const v = Number(m[1]);
    if (Number.isFinite(v)) max = Math.max(max ?? 0, v);
  }
  return max;
}

export interface LagWatch {
  /** stops scraping; the largest p99 seen per URL (undefined: never read), and failed scrapes */
  stop(): Promise<{ maxSeconds: Array<number | undefined>; failedScrapes: number; scrapes: number }>;
}

/** Scrapes each URL every LAG_SCRAPE_MS (urls() is asked each time: restarted edges keep their port). */
export function watchLag(urls: () => string[]): LagWatch {
  const max: Array<number | undefined> = [];
  let failed = 0;
  let scrapes = 0;
  let stopped = false;
  const scrapeAll = async () => {
    await Promise.all(
      urls().map(async (url, i) => {
        scrapes++;
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
          const lag = parseLagSeconds(await res.text());
          if (!res.ok || lag === undefined) failed++;
          else max[i] = Math.max(max[i] ?? 0, lag);
        } catch {
          failed++;
        }
      }),
    );
  };
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      await scrapeAll();
      await new Promise((r) => setTimeout(r, Math.max(0, LAG_SCRAPE_MS - (Date.now() - started))));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await scrapeAll(); // the window since the last scrape
      return { maxSeconds: urls().map((_, i) => max[i]), failedScrapes: failed, scrapes };
    },
  };
}

/** INFO stats' total_commands_processed (the INFO itself counts one). */
export async function redisCommandsProcessed(port: number, host = "127.0.0.1"): Promise<number> {
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host, port });
    let data = "";
    const timer = setTimeout(() => socket.destroy(new Error("redis INFO: no answer within 5 s")), 5_000);
    socket.on("connect", () => socket.write("INFO stats\r\n"));
    socket.on("data", (chunk) => {
      data += chunk.toString();
      const header = /^\$(\d+)\r\n/.exec(data);
      if (header && Buffer.byteLength(data) >= header[0].length + Number(header[1])) {
        clearTimeout(timer);
        socket.end();
        resolve(data);
      }
    });
    socket.on("error", (err) => (clearTimeout(timer), reject(err)));
  });
  const m = /total_commands_processed:(\d+)/.exec(reply);
  if (!m) throw new Error(`redis INFO stats without total_commands_processed: ${reply.slice(0, 200)}`);
  return Number(m[1]);
}
