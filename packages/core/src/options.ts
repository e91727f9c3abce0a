/**
 * Options a module declares (ARCHITECTURE.md "Configuration names"): each has a type, a default,
 * bounds and a line of description, so the server can validate an operator's value, name it in
 * an error, give it a `modules.<module>.<option>` key with its SWITCHBOARD_* variable, and list it
 * in the generated docs — without the module writing any of that itself.
 *
 * The value parsers are shared with the server's own configuration keys. Each takes the raw
 * value and where it came from:
 * - "typed" (YAML, command-line flags, code): YAML 1.2 already typed it, so a boolean must be
 *   `true`/`false` and a number a number — `"yes"`, `on` or `"12"` are refused, not guessed at;
 * - "text" (environment variables): always strings, so `1/0`, `yes/no`, `on/off` and digit
 *   strings are accepted.
 */

/** A value failed validation; the caller names the key and where the value came from. */
export class InvalidValue extends Error {
  override name = "InvalidValue";
}

export type ValueOrigin = "typed" | "text";
export type ValueParser<T = unknown> = (raw: unknown, origin: ValueOrigin) => T;

export function integer(min: number, max: number): ValueParser<number> {
  return (raw, origin) => {
    const range = `an integer from ${min} to ${max}`;
    if (origin === "typed" && typeof raw !== "number") {
      throw new InvalidValue(`must be ${range} written as a YAML number (no quotes)`);
    }
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidValue(`must be ${range}`);
    return n;
  };
}

/** A duration in seconds, fractions allowed (0.5), within bounds. */
export function seconds(min: number, max: number): ValueParser<number> {
  return (raw, origin) => {
    const range = `a number of seconds from ${min} to ${max}`;
    if (origin === "typed" && typeof raw !== "number") throw new InvalidValue(`must be ${range} written as a YAML number (no quotes)`);
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidValue(`must be ${range}`);
    return n;
  };
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

export const boolean: ValueParser<boolean> = (raw, origin) => {
  if (typeof raw === "boolean") return raw;
  if (origin === "typed") throw new InvalidValue("must be true or false (a YAML boolean, no quotes)");
  const word = typeof raw === "string" ? raw.trim().toLowerCase() : "";
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new InvalidValue("must be a boolean (true/false, 1/0, yes/no, on/off)");
};

export const nonEmptyString: ValueParser<string> = (raw) => {
  if (typeof raw !== "string" || raw.trim() === "") throw new InvalidValue("must be a non-empty string");
  return raw.trim();
};

export function oneOf<T extends string>(choices: readonly T[]): ValueParser<T> {
  return (raw) => {
    const value = typeof raw === "string" ? raw.trim().toLowerCase() : raw;
    if (!choices.includes(value as T)) throw new InvalidValue(`must be one of ${choices.join(", ")}`);
    return value as T;
  };
}

/**
 * A list of URIs with a scheme (mailto:, xmpp:, https:, …): a YAML list, or one string with
 * comma-separated entries (the only form an environment variable has).
 */
export const uriList: ValueParser<string[]> = textList(
  (text) => (/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(text) ? text : undefined),
  "URIs such as mailto:abuse@example.org or xmpp:abuse@example.org",
  "URIs with a scheme (mailto:, xmpp:, https:)",
);

/**
 * A list: a YAML list, or one string with comma-separated entries (the only form an environment
 * variable has). `item` checks and normalises one entry (undefined: refused); `what` and
 * `whatEach` name the list in errors; duplicates after normalising are kept once.
 */
export function textList(item: (text: string) => string | undefined, what: string, whatEach = what): ValueParser<string[]> {
  return (raw) => {
    const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : undefined;
    if (!items) throw new InvalidValue(`must be a list of ${what}`);
    const out: string[] = [];
    for (const entry of items) {
      const text = typeof entry === "string" ? entry.trim() : "";
      if (text === "" && typeof raw === "string") continue; // "a, b," in an env variable
      const value = item(text);
      if (value === undefined) throw new InvalidValue(`must be a list of ${whatEach}, got ${JSON.stringify(entry)}`);
      if (!out.includes(value)) out.push(value);
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// Module option schemas

export interface OptionSpec<T = unknown> {
  /** shown in docs and errors: "integer", "boolean", … */
  type: string;
  default: T;
  description: string;
  parse: ValueParser<T>;
}

export type OptionsSchema = Record<string, OptionSpec>;
export type OptionsOf<S extends OptionsSchema> = { [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

export const option = {
  integer: (min: number, max: number, dflt: number, description: string): OptionSpec<number> => ({
    type: `integer ${min}..${max}`,
    default: dflt,
    description,
    parse: integer(min, max),
  }),
  seconds: (min: number, max: number, dflt: number, description: string): OptionSpec<number> => ({
    type: `seconds ${min}..${max}`,
    default: dflt,
    description,
    parse: seconds(min, max),
  }),
  string: (dflt: string, description: string): OptionSpec<string> => ({
    type: "string",
    default: dflt,
    description,
    parse: (raw) => {
      if (typeof raw !== "string") throw new InvalidValue("must be a string");
      return raw;
    },
  }),
  boolean: (dflt: boolean, description: string): OptionSpec<boolean> => ({ type: "boolean", default: dflt, description, parse: boolean }),
  oneOf: <T extends string>(choices: readonly T[], dflt: T, description: string): OptionSpec<T> => ({
    type: choices.join(" \\| "),
    default: dflt,
    description,
    parse: oneOf(choices),
  }),
  uris: (description: string): OptionSpec<string[]> => ({ type: "URI list", default: [], description, parse: uriList }),
};

/** The schema's defaults, overlaid with `given` (each given value checked as code-typed). */
export function resolveOptions<S extends OptionsSchema>(module: string, schema: S, given: Record<string, unknown> = {}): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) out[name] = spec.default;
  for (const [name, value] of Object.entries(given)) {
    const spec = schema[name];
    if (!spec) throw new InvalidValue(`module ${module} has no option ${name} (it has: ${Object.keys(schema).join(", ") || "none"})`);
    if (value === undefined) continue;
    try {
      out[name] = spec.parse(value, "typed");
    } catch (err) {
      if (err instanceof InvalidValue) throw new InvalidValue(`${module}.${name} ${err.message}, got ${JSON.stringify(value)}`);
      throw err;
    }
  }
  return out as OptionsOf<S>;
}
