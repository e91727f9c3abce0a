import { describe, expect, it } from "vitest";
import type { RosterItem } from "@switchboard/core";
import { applyTransition, stateOf, transitionFor, SUBSCRIPTION_STATES, type Direction, type Effect, type SubscriptionState } from "./transitions.js";
import type { SubscriptionType } from "./stanzas.js";
import { item } from "./test-helpers.js";

/** The nine states of A.1, in the order every table of Appendix A lists them. */
const A1: readonly SubscriptionState[] = SUBSCRIPTION_STATES.slice(0, 9);

/**
 * One Appendix A table in the RFC's own shape: per A.1 state, the ROUTE?/DELIVER? column, the
 * NEW STATE column, and what else the RFC text asks of the server for that row.
 */
type RfcTable = ReadonlyArray<readonly ["yes" | "no", SubscriptionState | "no state change", ...Effect[]]>;

const NO = "no state change" as const;

const APPENDIX_A: ReadonlyArray<{ section: string; direction: Direction; type: SubscriptionType; rows: RfcTable }> = [
  {
    section: "A.2.1",
    direction: "outbound",
    type: "subscribe",
    rows: [
      ["yes", "None + Pending Out"],
      ["yes", NO],
      ["yes", "None + Pending Out+In"],
      ["yes", NO],
      ["yes", NO],
      ["yes", NO],
      ["yes", "From + Pending Out"],
      ["yes", NO],
      ["yes", NO],
    ],
  },
  {
    section: "A.2.2",
    direction: "outbound",
    type: "unsubscribe",
    rows: [
      ["yes", NO],
      ["yes", "None"],
      ["yes", NO],
      ["yes", "None + Pending In"],
      ["yes", "None"],
      ["yes", "None + Pending In"],
      ["yes", NO],
      ["yes", "From"],
      ["yes", "From"],
    ],
  },
  {
    section: "A.2.3",
    direction: "outbound",
    type: "subscribed",
    rows: [
      // "no state change" in the RFC, apart from the pre-approval of §3.4
      ["no", "None (pre-approved)"],
      ["no", "None + Pending Out (pre-approved)"],
      // §3.1.5: the approved contact gets the user's current presence
      ["yes", "From", "current presence"],
      ["yes", "From + Pending Out", "current presence"],
      ["no", "To (pre-approved)"],
      ["yes", "Both", "current presence"],
      ["no", NO],
      ["no", NO],
      ["no", NO],
    ],
  },
  {
    section: "A.2.4",
    direction: "outbound",
    type: "unsubscribed",
    rows: [
      ["no", NO],
      ["no", NO],
      ["yes", "None"],
      ["yes", "None + Pending Out"],
      ["no", NO],
      ["yes", "To"],
      // §3.2.2: the former subscriber sees the user's resources go offline
      ["yes", "None", "unavailable"],
      ["yes", "None + Pending Out", "unavailable"],
      ["yes", "To", "unavailable"],
    ],
  },
  {
    section: "A.3.1",
    direction: "inbound",
    type: "subscribe",
    rows: [
      ["yes", "None + Pending In"],
      ["yes", "None + Pending Out+In"],
      ["no", NO],
      ["no", NO],
      ["yes", "To + Pending In"],
      ["no", NO],
      // "no *": the server answers 'subscribed' itself
      ["no", NO, "auto-reply"],
      ["no", NO, "auto-reply"],
      ["no", NO, "auto-reply"],
    ],
  },
  {
    section: "A.3.2",
    direction: "inbound",
    type: "unsubscribe",
    rows: [
      ["no", NO],
      ["no", NO],
      ["yes", "None"],
      ["yes", "None + Pending Out"],
      ["no", NO],
      ["yes", "To"],
      // §3.3.3: the former subscriber sees the user's resources go offline
      ["yes", "None", "unavailable"],
      ["yes", "None + Pending Out", "unavailable"],
      ["yes", "To", "unavailable"],
    ],
  },
  {
    section: "A.3.3",
    direction: "inbound",
    type: "subscribed",
    rows: [
      ["no", NO],
      ["yes", "To"],
      ["no", NO],
      ["yes", "To + Pending In"],
      ["no", NO],
      ["no", NO],
      ["no", NO],
      ["yes", "Both"],
      ["no", NO],
    ],
  },
  {
    section: "A.3.4",
    direction: "inbound",
    type: "unsubscribed",
    rows: [
      ["no", NO],
      ["yes", "None"],
      ["no", NO],
      ["yes", "None + Pending In"],
      ["yes", "None"],
      ["yes", "None + Pending In"],
      ["no", NO],
      ["yes", "From"],
      ["yes", "From"],
    ],
  },
];

const appendixRows = APPENDIX_A.flatMap(({ section, direction, type, rows }) =>
  rows.map(([passes, newState, ...extra], i) => {
    const state = A1[i]!;
    const next = newState === NO ? state : newState;
    const pass: Effect[] = passes === "yes" ? [direction === "outbound" ? "route" : "deliver"] : [];
    return { name: `${section} #${i + 1} ${direction} ${type} in "${state}" → "${next}"`, direction, type, state, next, effects: [...pass, ...extra] };
  }),
);

describe("RFC 6121 Appendix A, row by row", () => {
  it("covers the 72 rows of A.2.1–A.3.4", () => {
    expect(appendixRows).toHaveLength(72);
  });

  it.each(appendixRows.map((row) => [row.name, row] as const))("%s", (_, { direction, type, state, next, effects }) => {
    const t = transitionFor(direction, type, state);
    expect(t.next).toBe(next);
    expect([...t.effects].sort()).toEqual([...effects].sort());
  });
});

describe("pre-approved states (RFC 6121 §3.4)", () => {
  const rows: Array<[Direction, SubscriptionType, SubscriptionState, SubscriptionState, Effect[]]> = [
    // the user's own subscription is independent of the contact's pre-approval
    ["outbound", "subscribe", "None (pre-approved)", "None + Pending Out (pre-approved)", ["route"]],
    ["outbound", "subscribe", "None + Pending Out (pre-approved)", "None + Pending Out (pre-approved)", ["route"]],
    ["outbound", "subscribe", "To (pre-approved)", "To (pre-approved)", ["route"]],
    ["outbound", "unsubscribe", "None (pre-approved)", "None (pre-approved)", ["route"]],
    ["outbound", "unsubscribe", "None + Pending Out (pre-approved)", "None (pre-approved)", ["route"]],
    ["outbound", "unsubscribe", "To (pre-approved)", "None (pre-approved)", ["route"]],
    // pre-approving twice records nothing new and routes nothing
    ["outbound", "subscribed", "None (pre-approved)", "None (pre-approved)", []],
    ["outbound", "subscribed", "None + Pending Out (pre-approved)", "None + Pending Out (pre-approved)", []],
    ["outbound", "subscribed", "To (pre-approved)", "To (pre-approved)", []],
    // 'unsubscribed' withdraws the pre-approval without telling the contact
    ["outbound", "unsubscribed", "None (pre-approved)", "None", []],
    ["outbound", "unsubscribed", "None + Pending Out (pre-approved)", "None + Pending Out", []],
    ["outbound", "unsubscribed", "To (pre-approved)", "To", []],
    // a pre-approved request is granted by the server, which sends the user's presence
    ["inbound", "subscribe", "None (pre-approved)", "From", ["auto-reply", "current presence"]],
    ["inbound", "subscribe", "None + Pending Out (pre-approved)", "From + Pending Out", ["auto-reply", "current presence"]],
    ["inbound", "subscribe", "To (pre-approved)", "Both", ["auto-reply", "current presence"]],
    ["inbound", "unsubscribe", "None (pre-approved)", "None (pre-approved)", []],
    ["inbound", "unsubscribe", "None + Pending Out (pre-approved)", "None + Pending Out (pre-approved)", []],
    ["inbound", "unsubscribe", "To (pre-approved)", "To (pre-approved)", []],
    ["inbound", "subscribed", "None (pre-approved)", "None (pre-approved)", []],
    ["inbound", "subscribed", "None + Pending Out (pre-approved)", "To (pre-approved)", ["deliver"]],
    ["inbound", "subscribed", "To (pre-approved)", "To (pre-approved)", []],
    ["inbound", "unsubscribed", "None (pre-approved)", "None (pre-approved)", []],
    ["inbound", "unsubscribed", "None + Pending Out (pre-approved)", "None (pre-approved)", ["deliver"]],
    ["inbound", "unsubscribed", "To (pre-approved)", "None (pre-approved)", ["deliver"]],
  ];

  it.each(rows)("%s %s in \"%s\" → \"%s\" %j", (direction, type, state, next, effects) => {
    const t = transitionFor(direction, type, state);
    expect(t.next).toBe(next);
    expect([...t.effects].sort()).toEqual([...effects].sort());
  });
});

describe("effects by direction", () => {
  const all = (direction: Direction) =>
    SUBSCRIPTION_STATES.flatMap((state) =>
      (["subscribe", "subscribed", "unsubscribe", "unsubscribed"] as const).flatMap((type) => transitionFor(direction, type, state).effects),
    );

  it("outbound rows never deliver to the user or auto-reply", () => {
    expect(new Set(all("outbound"))).toEqual(new Set(["route", "current presence", "unavailable"]));
  });

  it("inbound rows never route the stanza onwards", () => {
    expect(new Set(all("inbound"))).toEqual(new Set(["deliver", "auto-reply", "current presence", "unavailable"]));
  });
});

describe("effect order", () => {
  it("routes an approval before the presence it allows (§3.1.5)", () => {
    expect(transitionFor("outbound", "subscribed", "None + Pending In").effects).toEqual(["route", "current presence"]);
  });

  it("auto-replies to a pre-approved request before sending presence (§3.4)", () => {
    expect(transitionFor("inbound", "subscribe", "None (pre-approved)").effects).toEqual(["auto-reply", "current presence"]);
  });
});

describe("stateOf", () => {
  const base = item("contact@localhost", "none", { inRoster: false });

  it("reads a missing item as \"None\" (A.1)", () => {
    expect(stateOf(undefined)).toBe("None");
  });

  it.each(SUBSCRIPTION_STATES.map((s) => [s]))("reads back \"%s\" as stored", (state) => {
    const stored = applyTransition(base, { next: state, effects: [] });
    expect(stateOf(stored)).toBe(state);
  });

  it.each<[string, Partial<RosterItem> & Pick<RosterItem, "subscription">, SubscriptionState]>([
    ["a request from a contact already subscribed", { subscription: "from", askIn: true }, "From"],
    ["a request towards a contact already granting", { subscription: "to", askOut: true }, "To"],
    ["every flag on 'both'", { subscription: "both", askOut: true, askIn: true, approved: true }, "Both"],
    ["a pre-approval next to a pending request", { subscription: "none", askIn: true, approved: true }, "None + Pending In"],
    ["a pre-approval of a contact already subscribed", { subscription: "from", approved: true }, "From"],
  ])("ignores flags no state can hold: %s", (_, flags, expected) => {
    expect(stateOf({ ...base, ...flags })).toBe(expected);
  });
});

describe("applyTransition", () => {
  it("keeps the name, groups and status of a request that stays pending", () => {
    const pending = item("c@localhost", "none", { name: "C", groups: ["g"], askIn: true, askInStatus: "hi" });
    const next = applyTransition(pending, transitionFor("outbound", "subscribe", stateOf(pending)));
    expect(next).toMatchObject({ name: "C", groups: ["g"], subscription: "none", askOut: true, askIn: true, askInStatus: "hi" });
  });

  it("drops the status text with the request it belonged to", () => {
    const pending = item("c@localhost", "none", { askIn: true, askInStatus: "hi" });
    const next = applyTransition(pending, transitionFor("outbound", "subscribed", stateOf(pending)));
    expect(next).toMatchObject({ subscription: "from", askIn: false, askInStatus: undefined });
  });

  it("shows a hidden entry once it holds a subscription (§3.1.5)", () => {
    const hidden = item("c@localhost", "none", { askIn: true, inRoster: false });
    expect(applyTransition(hidden, transitionFor("outbound", "subscribed", "None + Pending In")).inRoster).toBe(true);
  });

  it("shows a hidden entry once the user asks for a subscription (§3.1.2)", () => {
    const hidden = item("c@localhost", "none", { approved: true, inRoster: false });
    expect(applyTransition(hidden, transitionFor("outbound", "subscribe", "None (pre-approved)")).inRoster).toBe(true);
  });

  it("leaves a contact's request and a pre-approval hidden", () => {
    const hidden = item("c@localhost", "none", { inRoster: false });
    expect(applyTransition(hidden, transitionFor("inbound", "subscribe", "None")).inRoster).toBe(false);
    expect(applyTransition(hidden, transitionFor("outbound", "subscribed", "None")).inRoster).toBe(false);
  });

  it("never hides a visible item", () => {
    const visible = item("c@localhost", "from");
    expect(applyTransition(visible, transitionFor("outbound", "unsubscribed", "From")).inRoster).toBe(true);
  });
});
