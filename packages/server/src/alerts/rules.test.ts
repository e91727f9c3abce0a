import { describe, expect, it } from "vitest";
import { DEFAULT_ALERT_RULES, MEASURES, MEASURE_NAMES, alertRules, describeThreshold } from "./rules.js";

describe("alert rules", () => {
  it("the default rules are valid rules, with distinct names, watching in and out", () => {
    expect(alertRules([...DEFAULT_ALERT_RULES], "typed")).toEqual(DEFAULT_ALERT_RULES);
    const measures = new Set(DEFAULT_ALERT_RULES.map((r) => r.measure));
    expect(measures).toEqual(new Set(["stanzas_in_per_second", "bytes_in_per_second", "bytes_out_per_second"]));
    // every p99 rule has a floor, so a quiet server does not call its chattiest user an outlier
    for (const rule of DEFAULT_ALERT_RULES.filter((r) => r.aboveP99Times !== undefined)) expect(rule.above).toBeGreaterThan(0);
  });

  it("has a measure for each direction of every counter of a session", () => {
    expect(MEASURE_NAMES).toHaveLength(10);
    for (const [measure, field] of Object.entries(MEASURES)) {
      const direction = field.endsWith("In") ? "in" : "out";
      expect(measure).toContain(`_${direction}_per_second`);
    }
  });

  it("takes JSON text from the environment and typed lists from YAML, but not a JSON string in YAML", () => {
    const rule = { name: "r", measure: "iqs_in_per_second", above: 5, aboveP99Times: 3, forSeconds: 30 };
    expect(alertRules(JSON.stringify([rule]), "text")).toEqual([rule]);
    expect(alertRules([rule], "typed")).toEqual([rule]);
    expect(() => alertRules(JSON.stringify([rule]), "typed")).toThrow(/must be a list of rules/);
    expect(() => alertRules("[]x", "text")).toThrow(/JSON list of rules/);
    expect(alertRules("[]", "text")).toEqual([]);
  });

  it("names the rule and the field in what it refuses", () => {
    const ok = { name: "r", measure: "stanzas_in_per_second", above: 1, forSeconds: 60 };
    expect(() => alertRules([ok, { ...ok, name: "bad name" }], "typed")).toThrow(/rule 2: name must be/);
    expect(() => alertRules([{ ...ok, forSeconds: 1.5 }], "typed")).toThrow(/rule 1 \("r"\): forSeconds must be a whole number/);
    expect(() => alertRules([{ ...ok, forSeconds: 3601 }], "typed")).toThrow(/from 1 to 3600/);
    expect(() => alertRules([{ ...ok, above: -1 }], "typed")).toThrow(/above must be a number of at least 0/);
    expect(() => alertRules([{ ...ok, above: Number.NaN }], "typed")).toThrow(/above must be a number/);
    expect(() => alertRules(["heavy-sender"], "typed")).toThrow(/rule 1: must be a mapping/);
  });

  it("describes a threshold as an operator reads it", () => {
    expect(describeThreshold({ name: "a", measure: "bytes_in_per_second", above: 20, forSeconds: 60 })).toBe("20");
    expect(describeThreshold({ name: "a", measure: "bytes_in_per_second", aboveP99Times: 10, forSeconds: 60 })).toBe("10 × p99");
    expect(describeThreshold({ name: "a", measure: "bytes_in_per_second", aboveP99Times: 10, above: 1, forSeconds: 60 })).toBe("10 × p99, at least 1");
  });
});
