/**
 * YAML loading for the infra tests. The `yaml` package is a dependency of @switchboard/server,
 * not of the workspace root, so it is resolved from there instead of adding a dependency.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

interface YamlDocument {
  errors: unknown[];
  toJS(): unknown;
}
interface YamlModule {
  parse(text: string): unknown;
  parseAllDocuments(text: string): YamlDocument[] | { errors: unknown[] };
}

const yaml = createRequire(new URL("../../packages/server/package.json", import.meta.url))("yaml") as YamlModule;

export const repoRoot = new URL("../../", import.meta.url);

export function readRepoFile(path: string): string {
  return readFileSync(new URL(path, repoRoot), "utf8");
}

export function parseYaml(text: string): unknown {
  return yaml.parse(text);
}

/** Every document of a multi-document file; a syntax error anywhere throws. */
export function parseYamlDocuments(text: string): unknown[] {
  const docs = yaml.parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new Error(`not a YAML stream: ${JSON.stringify(docs.errors)}`);
  for (const doc of docs) if (doc.errors.length > 0) throw new Error(`YAML error: ${String(doc.errors[0])}`);
  return docs.map((doc) => doc.toJS()).filter((value) => value !== null && value !== undefined);
}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads a nested field by dotted path, undefined when any step is missing. */
export function at(value: unknown, path: string): unknown {
  let current = value;
  for (const step of path.split(".")) {
    if (!isObject(current)) return undefined;
    current = current[step];
  }
  return current;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A deep copy to mutate in the "a broken file is caught" tests. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
