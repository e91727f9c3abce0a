/**
 * One account held online by a loader, as a phone app holds its connection: logged in (SCRAM,
 * bind, presence), and when the connection drops it reconnects at once, then after each failed
 * attempt waits a jittered exponential backoff (retry.ts) — or the delay the server asked for —
 * until it is online again or `giveUpMs` has passed since the drop. No stream management: after
 * a kill -9 there is nothing to resume on a fresh process' side that a login would not redo, and
 * a full login (SCRAM, bind, registry writes, presence) is the expensive reconnect to measure.
 */
import { LoadClient } from "../client.js";
import { backoffDelayMs, classifyAttempt, retryHintMs, type Backoff } from "./retry.js";

export interface StormClientOptions {
  host: string;
  port: number;
  localAddress: string | undefined;
  domain: string;
  username: string;
  password: string;
  resource: string;
  handshakeTimeoutMs: number;
  backoff: Backoff;
  giveUpMs: number;
  signal: AbortSignal;
  /** every connection attempt's end: undefined when it succeeded, else its failure kind and error */
  onAttempt(failure: string | undefined, err?: unknown): void;
  onOnline(client: StormClient): void;
  onDropped(client: StormClient): void;
  onGaveUp(client: StormClient): void;
}

export class StormClient {
  private client: LoadClient | undefined;
  private failuresInARow = 0;
  private droppedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** lost its connection since the loader was armed (reset by the loader) */
  droppedSinceArm = false;
  gaveUp = false;

  constructor(private readonly opts: StormClientOptions) {}

  get online(): boolean {
    return this.client?.isOnline === true;
  }

  /** One attempt; resolves when it ended (online, or a retry scheduled, or given up). */
  async connect(): Promise<void> {
    if (this.opts.signal.aborted) return;
    const o = this.opts;
    if (this.droppedAt === 0) this.droppedAt = Date.now(); // the first login gives up as late as a reconnect
    try {
      this.client = await LoadClient.connect({
        host: o.host,
        port: o.port,
        localAddress: o.localAddress,
        domain: o.domain,
        username: o.username,
        password: o.password,
        resource: o.resource,
        timeoutMs: o.handshakeTimeoutMs,
        signal: o.signal,
        onClose: () => this.dropped(),
      });
    } catch (err) {
      if (o.signal.aborted) return;
      o.onAttempt(classifyAttempt(err), err);
      this.failuresInARow++;
      const delay = retryHintMs(err) ?? backoffDelayMs(o.backoff, this.failuresInARow);
      if (Date.now() + delay - this.droppedAt > o.giveUpMs) {
        this.gaveUp = true;
        o.onGaveUp(this);
        return;
      }
      this.timer = setTimeout(() => void this.connect(), delay);
      return;
    }
    this.failuresInARow = 0;
    o.onAttempt(undefined);
    o.onOnline(this);
  }

  private dropped(): void {
    if (this.opts.signal.aborted) return;
    this.droppedAt = Date.now();
    this.droppedSinceArm = true;
    this.opts.onDropped(this);
    // every client at once: the first attempt is immediate, the backoff starts with its failure
    void this.connect();
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.client?.close(500);
  }
}
