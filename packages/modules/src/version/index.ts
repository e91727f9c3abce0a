/**
 * XEP-0092 Software Version for the server domain. The operating system is left out unless
 * `showOs` is set: XEP-0092 §5 notes that revealing it helps attackers, and operators of
 * public services usually hide it.
 */
import { readFileSync } from "node:fs";
import { release, type } from "node:os";
import { NS_VERSION, x } from "@switchboard/xml";
import { defineModule, option, type OptionsOf } from "@switchboard/core";

/** Operator options: `modules.version.<option>`. */
export const VERSION_OPTIONS = {
  name: option.string("Switchboard", "Software name answered to XEP-0092 version queries."),
  version: option.string("", "Version answered to XEP-0092 queries; empty means this release's version."),
  showOs: option.boolean(false, "Also answer the operating system (XEP-0092 §5: revealing it helps attackers)."),
};

export type VersionOptions = OptionsOf<typeof VERSION_OPTIONS>;

export const versionModule = defineModule({
  name: "version",
  spec: "XEP-0092",
  options: VERSION_OPTIONS,
  setup(ctx) {
    const name = ctx.options.name;
    const version = ctx.options.version || releaseVersion();
    const os = ctx.options.showOs ? `${type()} ${release()}` : undefined;
    ctx.hostFeature(NS_VERSION);
    ctx.iq({ type: "get", xmlns: NS_VERSION, name: "query", targets: ["host"] }, () =>
      x("query", { xmlns: NS_VERSION }, x("name", null, name), x("version", null, version), os !== undefined && x("os", null, os)),
    );
  },
});

/** The workspace root package.json sits four levels up from both src/version and dist/version. */
function releaseVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    if (typeof pkg.version === "string" && pkg.version !== "") return pkg.version;
  } catch {
    // not installed from the workspace (e.g. a bundled build): fall through
  }
  return "0.1.0";
}
