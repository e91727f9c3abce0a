/**
 * The alert webhook (`alerts.webhookUrl`): every alert this node raises is POSTed as JSON — the
 * alert's own fields, plus `text`, one line an operator can read, which is what Slack- and
 * Mattermost-style incoming webhooks show. Only the raising node posts, so each alert is
 * posted once in a cluster.
 *
 * Never in anyone's way: `post()` only queues; at most MAX_IN_FLIGHT requests run at once, each
 * bounded by a timeout, and a queue past MAX_QUEUED drops the alert (it is still in the log,
 * the metric and the listing). A failure is a warn line naming the endpoint's origin only — a
 * webhook URL's path often is its secret — and `switchboard_alert_webhooks_total{result}`.
 */
import type { Alert, Logger, Metrics } from "@switchboard/core";

const MAX_IN_FLIGHT = 4;
const MAX_QUEUED = 256;

export interface AlertWebhookOptions {
  /** each request's bound, ms (default 5 s) */
  timeoutMs?: number;
}

export type WebhookBody = Alert & { text: string };

export function webhookBody(alert: Alert): WebhookBody {
  return { ...alert, text: `[${alert.node}] alert ${alert.rule} for ${alert.subject}: ${alert.message}` };
}

export class AlertWebhook {
  private readonly queue: Alert[] = [];
  private readonly running = new Set<AbortController>();
  private readonly results: Record<"ok" | "failed" | "dropped", { add(n?: number): void }>;
  private readonly origin: string;
  private readonly timeoutMs: number;
  private closed = false;
  private droppedSinceLog = 0;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    metrics: Metrics,
    opts: AlertWebhookOptions = {},
  ) {
    this.origin = new URL(url).origin;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    const counter = metrics.counter("switchboard_alert_webhooks_total", { help: "Alerts posted to alerts.webhookUrl, by result (ok, failed, dropped)", labels: ["result"] });
    this.results = { ok: counter.with({ result: "ok" }), failed: counter.with({ result: "failed" }), dropped: counter.with({ result: "dropped" }) };
  }

  /** Queues the alert to be posted; returns at once. */
  post(alert: Alert): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.results.dropped.add();
      // one line per burst, not one per dropped alert
      if (this.droppedSinceLog++ === 0) this.log.warn({ webhook: this.origin, queued: MAX_QUEUED }, "alert webhook is behind; alerts are dropped until it catches up");
      return;
    }
    this.queue.push(alert);
    this.next();
  }

  /** Requests in flight and queued (tests). */
  get pending(): number {
    return this.running.size + this.queue.length;
  }

  /** Stops posting: what is queued is dropped, requests in flight are aborted. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    for (const request of this.running) request.abort();
  }

  private next(): void {
    while (!this.closed && this.running.size < MAX_IN_FLIGHT && this.queue.length > 0) {
      const alert = this.queue.shift()!;
      const request = new AbortController();
      this.running.add(request);
      void this.send(alert, request).finally(() => {
        this.running.delete(request);
        if (this.queue.length === 0) this.droppedSinceLog = 0;
        this.next();
      });
    }
  }

  private async send(alert: Alert, request: AbortController): Promise<void> {
    const timer = setTimeout(() => request.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "switchboard" },
        body: JSON.stringify(webhookBody(alert)),
        // a POST redirected would become a GET without the alert: a redirect is a failure
        redirect: "manual",
        signal: request.signal,
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) this.results.ok.add();
      else this.failed(alert, `HTTP ${res.status}`);
    } catch (err) {
      if (this.closed) return;
      // undici says "fetch failed" and keeps what happened (ECONNREFUSED, …) in the cause
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = request.signal.reason instanceof Error ? request.signal.reason.message : (cause?.code ?? cause?.message ?? (err as Error).message);
      this.failed(alert, reason);
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(alert: Alert, reason: string): void {
    this.results.failed.add();
    this.log.warn({ webhook: this.origin, rule: alert.rule, subject: alert.subject, reason }, `alert webhook failed: ${reason}`);
  }
}
