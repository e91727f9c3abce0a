/**
 * Alerts (issue 12 "Detection and alerts"): the one way anything in the process says "an
 * operator should look at this". `host.alerts.raise()` makes an alert
 * - a log line at warn; the same rule and subject raise again only after `repeatMs`, so a
 *   condition that holds is one alert a minute, not one per check,
 * - `switchboard_alerts_total{rule}` on the metrics port,
 * - the `alert/raised` core event, where the process wiring hangs the bus publication (so every
 *   node and `switchboard alerts --follow` see it) and the webhook,
 * - an entry in a bounded list of recent alerts (`recent()`, the admin API's listing).
 * Alerts other nodes raised arrive through `received()`: kept in the list, not counted again.
 */
import type { CoreEvents } from "./events.js";
import type { HookBus } from "./hooks.js";
import type { Logger } from "./logger.js";
import type { Counter, Metrics } from "./metrics.js";

export interface Alert {
  /** the rule that fired: "user-flood", or the name of an alerts.rules entry */
  rule: string;
  /** what the alert is about: a bare JID, a node id, a room */
  subject: string;
  /** one sentence for the operator */
  message: string;
  /** the measure the rule watches, when there is one (alerts.rules) */
  measure?: string;
  value?: number;
  threshold?: number;
  /** ISO 8601 time it was raised */
  at: string;
  /** the node that raised it */
  node: string;
}

export type AlertInput = Omit<Alert, "at" | "node">;

export interface AlertRaisedEvent {
  alert: Alert;
}

export interface AlertsOptions {
  /** the same rule and subject raise again at most this often (ms); default 60 s */
  repeatMs?: number;
  /** recent alerts kept for the listing; default 500 */
  keep?: number;
  now?: () => number;
}

export class Alerts {
  private readonly raised: Counter;
  private readonly byRule = new Map<string, { add(n?: number): void }>();
  private readonly lastRaised = new Map<string, number>();
  private readonly list: Alert[] = [];
  private readonly repeatMs: number;
  private readonly keep: number;
  private readonly now: () => number;

  constructor(
    private readonly nodeId: string,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly hooks: HookBus<CoreEvents>,
    opts: AlertsOptions = {},
  ) {
    this.raised = metrics.counter("switchboard_alerts_total", { help: "Alerts raised on this node, by rule", labels: ["rule"] });
    this.repeatMs = opts.repeatMs ?? 60_000;
    this.keep = opts.keep ?? 500;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Raises an alert, unless the same rule raised one for the same subject within repeatMs
   * (then it returns undefined). Never throws: a failing event handler is logged.
   */
  raise(input: AlertInput): Alert | undefined {
    const t = this.now();
    const id = `${input.rule}\u0000${input.subject}`;
    const last = this.lastRaised.get(id);
    if (last !== undefined && t - last < this.repeatMs) return undefined;
    if (this.lastRaised.size >= 10_000) for (const [k, at] of this.lastRaised) if (t - at >= this.repeatMs) this.lastRaised.delete(k);
    this.lastRaised.set(id, t);
    const alert: Alert = { ...input, at: new Date(t).toISOString(), node: this.nodeId };
    let counter = this.byRule.get(alert.rule);
    if (!counter) this.byRule.set(alert.rule, (counter = this.raised.with({ rule: alert.rule })));
    counter.add();
    this.log.warn({ alert }, `alert ${alert.rule} for ${alert.subject}: ${alert.message}`);
    this.remember(alert);
    if (this.hooks.has("alert/raised")) {
      this.hooks.fire("alert/raised", { alert }).catch((err: unknown) => this.log.warn({ err, rule: alert.rule }, "alert/raised handler failed"));
    }
    return alert;
  }

  /** An alert another node raised (over the bus): listed here too. */
  received(alert: Alert): void {
    if (alert.node === this.nodeId) return;
    this.remember(alert);
  }

  /** Recent alerts, oldest first (this node's and those received). */
  recent(): Alert[] {
    return [...this.list];
  }

  private remember(alert: Alert): void {
    this.list.push(alert);
    if (this.list.length > this.keep) this.list.splice(0, this.list.length - this.keep);
  }
}
