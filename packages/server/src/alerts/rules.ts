/**
 * Alert rules (issue 12 "Detection and alerts", config key `alerts.rules`): what an operator
 * calls abnormal use of one account, as data. A rule names a measure of a user's traffic (a
 * per-second rate read from the sessions' counters, accounting.ts), a threshold — absolute
 * (`above`), a multiple of the population's p99 (`aboveP99Times`), or both, when `above` is the
 * floor under the multiple — and the window the rate is averaged over (`forSeconds`).
 *
 * Parsed like every other key (config-schema.ts): a YAML list of mappings, or JSON text in
 * SWITCHBOARD_ALERTS_RULES; a mistake is an InvalidValue naming the rule and its field, which
 * the loader turns into a config error naming `alerts.rules`.
 */
import { InvalidValue, type SessionTraffic, type ValueParser } from "@switchboard/core";

/** Each measure and the session counter it is the rate of. */
export const MEASURES = {
  stanzas_in_per_second: "stanzasIn",
  stanzas_out_per_second: "stanzasOut",
  bytes_in_per_second: "bytesIn",
  bytes_out_per_second: "bytesOut",
  messages_in_per_second: "messagesIn",
  presences_in_per_second: "presencesIn",
  iqs_in_per_second: "iqsIn",
  messages_out_per_second: "messagesOut",
  presences_out_per_second: "presencesOut",
  iqs_out_per_second: "iqsOut",
} as const satisfies Record<string, keyof SessionTraffic>;

export type Measure = keyof typeof MEASURES;
export const MEASURE_NAMES = Object.keys(MEASURES) as Measure[];

export interface AlertRule {
  /** the alert's `rule`, and its `switchboard_alerts_total{rule}` label */
  name: string;
  measure: Measure;
  /** absolute threshold (per second); with aboveP99Times, the floor under the multiple */
  above?: number;
  /** threshold as a multiple of the p99 of the other users active in the window */
  aboveP99Times?: number;
  /** the sliding window the rate is averaged over, in seconds */
  forSeconds: number;
}

/** Fewer users than this active in the window: a p99 says nothing, and the rule is not checked. */
export const MIN_POPULATION = 20;
export const MAX_FOR_SECONDS = 3600;

/**
 * On unless the operator sets `rules: []`. The absolute rules sit below the per-user limits
 * (limits.userStanzasPerSecond 50, userBytesPerSecond 256 KiB), so a user who keeps close to
 * them for a minute is seen before anything is refused; the p99 rules find the one account
 * ten times busier than nearly everyone else on the node, with a floor so that on a quiet
 * server a user who merely chats more than the idle ones is not an outlier.
 */
export const DEFAULT_ALERT_RULES: readonly AlertRule[] = [
  { name: "heavy-sender", measure: "stanzas_in_per_second", above: 20, forSeconds: 60 },
  { name: "heavy-upload", measure: "bytes_in_per_second", above: 65536, forSeconds: 60 },
  { name: "heavy-download", measure: "bytes_out_per_second", above: 262144, forSeconds: 60 },
  { name: "outlier-sender", measure: "stanzas_in_per_second", aboveP99Times: 10, above: 1, forSeconds: 300 },
  { name: "outlier-upload", measure: "bytes_in_per_second", aboveP99Times: 10, above: 4096, forSeconds: 300 },
  { name: "outlier-download", measure: "bytes_out_per_second", aboveP99Times: 10, above: 16384, forSeconds: 300 },
];

const FIELDS = new Set(["name", "measure", "above", "aboveP99Times", "forSeconds"]);
/** `user-flood` is the per-user limit's own alert (c2s/user-rate.ts): a rule may not pose as it */
const RESERVED = new Set(["user-flood"]);

/** `alerts.rules`: a YAML list of rule mappings, or the same as JSON text (the environment). */
export const alertRules: ValueParser<AlertRule[]> = (raw, origin) => {
  let list = raw;
  if (origin === "text" && typeof raw === "string") {
    try {
      list = JSON.parse(raw);
    } catch {
      throw new InvalidValue('must be a JSON list of rules in the environment, such as [{"name":"heavy-sender","measure":"stanzas_in_per_second","above":100,"forSeconds":60}]');
    }
  }
  if (!Array.isArray(list)) throw new InvalidValue("must be a list of rules (each with name, measure, above or aboveP99Times, and forSeconds)");
  const names = new Set<string>();
  return list.map((entry: unknown, i) => {
    const rule = parseRule(entry, `rule ${i + 1}`);
    if (names.has(rule.name)) throw new InvalidValue(`rule ${i + 1}: the name "${rule.name}" is used twice`);
    names.add(rule.name);
    return rule;
  });
};

function parseRule(entry: unknown, where: string): AlertRule {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw new InvalidValue(`${where}: must be a mapping with name, measure, above or aboveP99Times, and forSeconds`);
  const fields = entry as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (!FIELDS.has(field)) throw new InvalidValue(`${where}: unknown field "${field}" (a rule has ${[...FIELDS].join(", ")})`);
  }
  const { name, measure } = fields;
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new InvalidValue(`${where}: name must be 1 to 64 letters, digits, '-', '_' or '.'`);
  }
  where = `${where} ("${name}")`;
  if (RESERVED.has(name)) throw new InvalidValue(`${where}: the name is the per-user limit's own alert; choose another`);
  if (typeof measure !== "string" || !(measure in MEASURES)) throw new InvalidValue(`${where}: measure must be one of ${MEASURE_NAMES.join(", ")}`);
  const rule: AlertRule = { name, measure: measure as Measure, forSeconds: 0 };
  const above = number(fields.above, `${where}: above`, 0);
  const times = number(fields.aboveP99Times, `${where}: aboveP99Times`, 1);
  if (above === undefined && times === undefined) throw new InvalidValue(`${where}: needs a threshold: above (absolute), aboveP99Times (a multiple of the p99), or both`);
  if (above !== undefined) rule.above = above;
  if (times !== undefined) rule.aboveP99Times = times;
  const seconds = fields.forSeconds;
  if (typeof seconds !== "number" || !Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_FOR_SECONDS) {
    throw new InvalidValue(`${where}: forSeconds must be a whole number of seconds from 1 to ${MAX_FOR_SECONDS}`);
  }
  rule.forSeconds = seconds;
  return rule;
}

/** A number no lower than `min` (undefined when absent); YAML and JSON both type it already. */
function number(raw: unknown, what: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "number" || !Number.isFinite(raw) || raw < min) throw new InvalidValue(`${what} must be a number of at least ${min} (no quotes)`);
  return raw;
}

/** How the rule's threshold reads in an alert and the docs: "20", "10 × p99", "10 × p99, at least 1". */
export function describeThreshold(rule: AlertRule): string {
  if (rule.aboveP99Times === undefined) return `${rule.above}`;
  return rule.above ? `${rule.aboveP99Times} × p99, at least ${rule.above}` : `${rule.aboveP99Times} × p99`;
}
