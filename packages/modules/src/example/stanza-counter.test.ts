/**
 * The worked example of docs/architecture.md "How a feature plugs in": a module that counts one
 * user's stanzas in and out through the session filters, with an option, a metric and an IQ to
 * read the count. The code between the markers is quoted in the document (a test checks it).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { x } from "@switchboard/xml";
import { InProcessMetrics } from "@switchboard/core";
import { createTestHost } from "../testing/harness.js";
import { messageModule } from "../message/index.js";
// --- example start
import { defineModule, option, sessionState } from "@switchboard/core";

const COUNTS = sessionState("counter.stanzas", () => ({ in: 0, out: 0 }));

export const stanzaCounter = defineModule({
  name: "counter",
  spec: "example",
  options: { user: option.string("", "The bare JID whose stanzas are counted.") },
  setup(ctx) {
    const watched = (jid: string) => jid.startsWith(`${ctx.options.user}/`);
    const seen = ctx.host.metrics.counter("example_stanzas_total", { help: "stanzas of the watched user", labels: ["direction"] });
    ctx.sessionState(COUNTS);
    ctx.incoming((session, stanza) => {
      if (watched(session.jid.full)) (session.state(COUNTS).in++, seen.add(1, { direction: "in" }));
      return stanza; // pass it on unchanged
    }, { band: "observe" });
    ctx.outgoing((session, stanza) => {
      if (watched(session.jid.full)) (session.state(COUNTS).out++, seen.add(1, { direction: "out" }));
      return stanza;
    }, { band: "observe" });
    ctx.iq({ type: "get", xmlns: "urn:example:counter", name: "query", targets: ["bare"] }, (ev) => {
      const counts = ev.origin?.state(COUNTS) ?? { in: 0, out: 0 };
      return x("query", { xmlns: "urn:example:counter", in: String(counts.in), out: String(counts.out) });
    });
  },
});
// --- example end

describe("a module that plugs in through the session filters (docs/architecture.md)", () => {
  it("counts the watched user's stanzas both ways, and only theirs", async () => {
    const t = await createTestHost([messageModule, [stanzaCounter, { user: "alice@localhost" }]]);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await alice.sendAsClient("<message to='bob@localhost/b' type='chat'><body>1</body></message>");
    await bob.sendAsClient("<message to='alice@localhost/a' type='chat'><body>2</body></message>");
    await bob.sendAsClient("<message to='alice@localhost/a' type='chat'><body>3</body></message>");
    await alice.sendAsClient("<iq type='get' id='c1'><query xmlns='urn:example:counter'/></iq>");
    const answer = alice.take((el) => el.attrs.id === "c1")[0]!;
    // the IQ is counted on its way in; its answer was built before it went out (so 2, then 3)
    expect(answer.getChild("query")?.attrs).toMatchObject({ in: "2", out: "2" });
    const metrics = t.host.metrics as InProcessMetrics;
    expect(metrics.value("example_stanzas_total", { direction: "in" })).toBe(2);
    expect(metrics.value("example_stanzas_total", { direction: "out" })).toBe(3);
  });

  it("is quoted, as it is here, in docs/architecture.md, in under 40 lines", () => {
    const source = readFileSync(import.meta.filename, "utf8");
    const example = source.slice(source.indexOf("// --- example start\n") + 21, source.indexOf("// --- example end"));
    const doc = readFileSync(join(import.meta.dirname, "../../../../docs/architecture.md"), "utf8");
    expect(doc).toContain(example.trim());
    expect(example.trim().split("\n").length).toBeLessThan(40);
  });
});
