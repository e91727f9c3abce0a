/**
 * Detection and alerts (issue 12; docs/observability.md "Alerts"), wired into one process:
 * - every `alerts.evaluateSeconds`, one pass over this node's sessions feeds the per-user
 *   accounting and every rule of `alerts.rules` is checked (evaluator.ts); a breach is raised
 *   through the core's alerts (log line, `switchboard_alerts_total{rule}`, `alert/raised`,
 *   the recent list), which repeat the same rule and subject at most once a minute;
 * - every alert raised here — rules and `user-flood` alike — goes to the other nodes (bus.ts)
 *   and, when `alerts.webhookUrl` is set, to the webhook (webhook.ts).
 */
import { performance } from "node:perf_hooks";
import { Session, type Host, type Logger } from "@switchboard/core";
import type { SwitchboardConfig } from "../config.js";
import { relayAlerts } from "./bus.js";
import { RuleEvaluator, type Breach } from "./evaluator.js";
import { describeThreshold } from "./rules.js";
import { AlertWebhook } from "./webhook.js";

export { DEFAULT_ALERT_RULES, MEASURE_NAMES, alertRules, type AlertRule, type Measure } from "./rules.js";
export { webhookBody, type WebhookBody } from "./webhook.js";

export interface RunningAlerting {
  stop(): void;
}

export function startAlerting(host: Host, cfg: Pick<SwitchboardConfig, "alerts">, log: Logger): RunningAlerting {
  const { rules, webhookUrl, evaluateSeconds } = cfg.alerts;
  const undo: Array<() => void> = [relayAlerts(host, log)];
  if (webhookUrl) {
    const webhook = new AlertWebhook(webhookUrl, log, host.metrics);
    undo.push(host.hooks.on("alert/raised", ({ alert }) => webhook.post(alert), { band: "observe" }));
    undo.push(() => webhook.close());
  }
  if (rules.length > 0) {
    const evaluator = new RuleEvaluator(rules, evaluateSeconds);
    // a session that came and went between two passes is read at the next one
    undo.push(host.hooks.on("session/closed", ({ session }) => (session instanceof Session ? evaluator.ended(session) : undefined), { band: "observe" }));
    const took = host.metrics.histogram("switchboard_alert_evaluation_seconds", { help: "One pass of the alert rules over this node's sessions (sampling and checks)" });
    host.metrics.observe("switchboard_alert_accounted_users", { help: "Users with traffic in the longest alert-rule window on this node" }, () => [[evaluator.accountedUsers()]]);
    const evaluate = () => {
      const started = performance.now();
      try {
        for (const breach of evaluator.evaluate(host.sessions.values(), Date.now())) raise(host, evaluator, breach);
      } catch (err) {
        log.error({ err }, "alert rules could not be evaluated");
      }
      took.record((performance.now() - started) / 1000);
    };
    const timer = setInterval(evaluate, evaluateSeconds * 1000);
    timer.unref();
    undo.push(() => clearInterval(timer));
  }
  log.info({ rules: rules.map((r) => r.name), evaluateSeconds, webhook: webhookUrl ? new URL(webhookUrl).origin : undefined }, "alerting on");
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const step of undo.reverse()) step();
    },
  };
}

function raise(host: Host, evaluator: RuleEvaluator, breach: Breach): void {
  const { rule, subject, value, threshold, p99 } = breach;
  const why = p99 ? ` (${describeThreshold(rule)}: the p99 of the ${p99.population - 1} other users active here is ${round(p99.value)})` : "";
  host.alerts.raise({
    rule: rule.name,
    subject,
    message: `${rule.measure} averaged ${round(value)} over the last ${evaluator.windowSeconds(rule)} s on this node, above ${round(threshold)}${why}`,
    measure: rule.measure,
    value: round(value),
    threshold: round(threshold),
  });
}

/** Two decimals: what an operator reads, not float noise. */
function round(n: number): number {
  return Math.round(n * 100) / 100;
}
