/**
 * The configuration reference, generated from CONFIG_SCHEMA so it cannot drift: the key table in
 * docs/configuration.md and the whole of switchboard.example.yaml. `pnpm gen:config` rewrites
 * both; config.test.ts fails when either differs from what the schema gives.
 */
import { stringify } from "yaml";
import { CONFIG_SCHEMA, envName, type ConfigKeySpec } from "./config-schema.js";
import { describeConfig } from "./config.js";

/** The Markdown table in docs/configuration.md. */
export function configMarkdownTable(): string {
  const rows = describeConfig().map((row) => `| \`${row.key}\` | ${row.type} | ${row.default} | ${row.env} | ${row.description} |`);
  return ["| key | type | default | env | description |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

/** What each YAML section is for, written above it in the example file. */
const SECTION_NOTES: Record<string, string> = {
  log: "Logging (pino).",
  c2s: "Client connections (RFC 6120).",
  http: "The HTTP listener: WebSocket (RFC 7395), /healthz and /readyz.",
  tls: "TLS material for every client port.",
  tracing: "OpenTelemetry traces; the exporter is set by the standard OTEL_* variables (docs/observability.md).",
  limits: "Limits that keep the server up while clients misbehave.",
  registration: "In-band registration (XEP-0077).",
  admin: "The admin API and the switchboard admin commands (docs/admin.md).",
  alerts: "Alert rules on per-user traffic, and where alerts go besides the log (docs/observability.md).",
  shutdown: "What SIGINT and SIGTERM do.",
  sm: "Stream management (XEP-0198): acknowledgements, and resumption on any edge.",
  pep: "Personal eventing (XEP-0163): limits of every account's PEP nodes.",
  muc: "Multi-user chat (XEP-0045): the service domain and its abuse limits.",
  modules: "Options of the feature modules (each declares its own: type, default, bounds).",
  contact: "Contact addresses published in disco#info (XEP-0157); for a public service, set abuse.",
  upload: "HTTP File Upload (XEP-0363): slots, limits, expiry; files served on http.tlsPort.",
  "upload.s3": "The S3-compatible store for uploads (required in a cluster).",
};

/** Written above the first top-level key that follows the sections. */
const CLUSTER_NOTE = "Cluster mode: session registry and store in Redis, stanza bus on NATS.";

const HEADER = `# Switchboard configuration: every key with its default value (generated from the schema:
# pnpm gen:config). Copy to switchboard.yaml, keep what you change, and start with:
#   pnpm switchboard start --config switchboard.yaml
# Environment variables override this file (each key's variable is named in its comment);
# command-line flags override both. Booleans are true/false and numbers are plain YAML numbers.
# Reference: docs/configuration.md`;

export function exampleYaml(): string {
  const out = [HEADER];
  let open: string[] = [];
  for (const spec of CONFIG_SCHEMA) {
    const parts = spec.key.split(".");
    const name = parts.at(-1)!;
    const sections = parts.slice(0, -1);
    // Close and open sections down to this key's (modules → modules.ping → …).
    let common = 0;
    while (common < open.length && common < sections.length && open[common] === sections[common]) common++;
    if (sections.length === 0 && open.length > 0 && spec.key === "redisUrl") out.push("", ...comment(CLUSTER_NOTE, ""));
    for (let depth = common; depth < sections.length; depth++) {
      const path = sections.slice(0, depth + 1).join(".");
      const indent = "  ".repeat(depth);
      out.push("", ...comment(SECTION_NOTES[path] ?? "", indent), `${indent}${sections[depth]}:`);
    }
    open = sections;
    const indent = "  ".repeat(sections.length);
    if (sections.length === 0 && spec.key !== "redisUrl" && spec.key !== "natsUrl" && spec.key !== "clusterPrefix") out.push("");
    out.push(...comment(spec.description, indent), `${indent}# env: ${envName(spec.key)}`);
    out.push(`${indent}${valueLine(spec, name)}`);
  }
  return out.join("\n") + "\n";
}

function valueLine(spec: ConfigKeySpec, name: string): string {
  const value = spec.default();
  // Keys without a fixed default (unset, generated, random) are shown commented out.
  if (spec.example !== undefined && (value === undefined || spec.defaultText !== undefined)) return `# ${name}: ${spec.example}`;
  if (value === undefined) return `# ${name}:`;
  return `${name}: ${stringify(value, { flow: true, lineWidth: 0 }).trim()}`;
}

/** Wraps text into `# ` comment lines of at most 100 characters. */
function comment(text: string, indent: string): string[] {
  if (text === "") return [];
  const width = 100 - indent.length - 2;
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => `${indent}# ${l}`);
}
