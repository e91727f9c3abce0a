/** Rewrites the generated parts of the configuration reference (`pnpm gen:config`). */
import { readFileSync, writeFileSync } from "node:fs";
import { configMarkdownTable, exampleYaml } from "@switchboard/server";

const doc = "docs/configuration.md";
const lines = readFileSync(doc, "utf8").split("\n");
const start = lines.findIndex((l) => l.startsWith("| key"));
if (start < 0) throw new Error(`${doc}: no "| key" table to replace`);
let end = start;
while (end < lines.length && lines[end]!.startsWith("|")) end++;
lines.splice(start, end - start, ...configMarkdownTable().split("\n"));
writeFileSync(doc, lines.join("\n"));
writeFileSync("switchboard.example.yaml", exampleYaml());
console.log(`${doc}: ${end - start} table lines replaced; switchboard.example.yaml written`);
