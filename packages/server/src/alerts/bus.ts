/**
 * Alerts across the cluster: every alert this node raises (the core's `alert/raised` event, for
 * rules and `user-flood` alike) goes to every node as an `alert.raised` control notice, and the
 * ones other nodes raised are listed here (`host.alerts.received`: not counted again, not
 * posted to the webhook again — the raising node does both). On the embedded node the notice
 * comes back to its sender, which ignores it.
 */
import type { Alert, ControlMessage, Host, Logger } from "@switchboard/core";

declare module "@switchboard/core" {
  interface ControlMessages {
    /** `origin` raised `alert` (host.alerts.raise) */
    "alert.raised": { alert: Alert };
  }
}

/** Publishes this node's alerts and lists the others'; returns what undoes both. */
export function relayAlerts(host: Host, log: Logger): () => void {
  const off = host.hooks.on(
    "alert/raised",
    ({ alert }) => {
      host.bus.publishControl({ type: "alert.raised", origin: host.nodeId, alert }).catch((err: unknown) => log.warn({ err, rule: alert.rule }, "could not tell the cluster about an alert"));
    },
    { band: "observe" },
  );
  const unsubscribe = host.bus.subscribeControl((m: ControlMessage) => {
    if (m.type !== "alert.raised" || m.origin === host.nodeId) return;
    const alert = receivedAlert(m.alert);
    if (alert) host.alerts.received(alert);
    else log.debug({ origin: m.origin }, "ignored a malformed alert.raised notice");
  });
  return () => {
    off();
    unsubscribe();
  };
}

/** What arrives from the wire is untrusted: an alert with the fields it must have, and only those. */
export function receivedAlert(raw: unknown): Alert | undefined {
  if (raw === null || typeof raw !== "object") return undefined;
  const a = raw as Record<string, unknown>;
  const text = (v: unknown) => typeof v === "string" && v.length > 0 && v.length <= 2048;
  const num = (v: unknown) => v === undefined || (typeof v === "number" && Number.isFinite(v));
  if (![a.rule, a.subject, a.message, a.at, a.node].every(text)) return undefined;
  if (!num(a.value) || !num(a.threshold) || (a.measure !== undefined && !text(a.measure))) return undefined;
  const alert: Alert = { rule: a.rule as string, subject: a.subject as string, message: a.message as string, at: a.at as string, node: a.node as string };
  if (a.measure !== undefined) alert.measure = a.measure as string;
  if (a.value !== undefined) alert.value = a.value as number;
  if (a.threshold !== undefined) alert.threshold = a.threshold as number;
  return alert;
}
