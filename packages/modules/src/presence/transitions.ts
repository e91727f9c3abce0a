/**
 * The subscription state machine of RFC 6121 Appendix A, written once, as data.
 *
 * A row says: when the user's server handles a subscription stanza of a given type, sent by the
 * user ("outbound", A.2) or addressed to the user ("inbound", A.3), and the user's roster item for
 * the contact is in a given state, which state the item moves to and what the server does.
 * "State" is always the user's view of the relation (A.1). inbound.ts and outbound.ts look the row
 * up, store the item (roster pushes, hidden entries) and carry out the effects; no other code
 * decides a subscription state.
 *
 * Reading the table: each RFC table (A.2.1 … A.3.4) lists the nine states of A.1 in the same
 * order, so "#3" below is the third row of that RFC table ("None + Pending In"). Three extra
 * states carry the pre-approval flag of §3.4; a pre-approval can only be held while the contact
 * is not subscribed to the user and has no request pending, i.e. in "None", "None + Pending Out"
 * and "To", so only those three have a pre-approved twin.
 */
import type { RosterItem, Subscription } from "@switchboard/core";
import type { SubscriptionType } from "./stanzas.js";

/** A.1 (in its order), then the pre-approved twins (§3.4). */
export const SUBSCRIPTION_STATES = [
  "None",
  "None + Pending Out",
  "None + Pending In",
  "None + Pending Out+In",
  "To",
  "To + Pending In",
  "From",
  "From + Pending Out",
  "Both",
  "None (pre-approved)",
  "None + Pending Out (pre-approved)",
  "To (pre-approved)",
] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

/** A.2: sent by the user's client; A.3: received for the user from the contact. */
export type Direction = "outbound" | "inbound";

/**
 * What the server does once the new state is stored, in the order listed in the row:
 * - "route": forward the stanza to the contact, stamped with bare JIDs (outbound, §3.1.2);
 * - "deliver": deliver the stanza to the user's available resources (inbound, A.3 "DELIVER?");
 * - "auto-reply": answer 'subscribed' to the contact on the user's behalf (A.3.1 footnote, §3.4);
 * - "current presence": send the user's current presence from each available resource to the
 *   contact, who may now see it (§3.1.5, §3.4);
 * - "unavailable": send unavailable presence from each of the user's available resources to the
 *   contact, who may no longer see them (§3.2.2, §3.3.3).
 */
export type Effect = "route" | "deliver" | "auto-reply" | "current presence" | "unavailable";

export interface Transition {
  /** the state after the stanza; the current one where the RFC says "no state change" */
  next: SubscriptionState;
  effects: readonly Effect[];
}

type Row = readonly [Direction, SubscriptionType, SubscriptionState, SubscriptionState, readonly Effect[]];

const NOTHING: readonly Effect[] = [];

// direction   stanza          current state                         next state                            effects
const ROWS: readonly Row[] = [
  // A.2.1 outbound "subscribe": always routed (A.2: a user must be able to resynchronise a
  // subscription the contact's server lost), whether or not the state changes.
  ["outbound", "subscribe",    "None",                               "None + Pending Out",                 ["route"]], // #1
  ["outbound", "subscribe",    "None + Pending Out",                 "None + Pending Out",                 ["route"]], // #2
  ["outbound", "subscribe",    "None + Pending In",                  "None + Pending Out+In",              ["route"]], // #3
  ["outbound", "subscribe",    "None + Pending Out+In",              "None + Pending Out+In",              ["route"]], // #4
  ["outbound", "subscribe",    "To",                                 "To",                                 ["route"]], // #5
  ["outbound", "subscribe",    "To + Pending In",                    "To + Pending In",                    ["route"]], // #6
  ["outbound", "subscribe",    "From",                               "From + Pending Out",                 ["route"]], // #7
  ["outbound", "subscribe",    "From + Pending Out",                 "From + Pending Out",                 ["route"]], // #8
  ["outbound", "subscribe",    "Both",                               "Both",                               ["route"]], // #9
  // §3.4: the user's own request leaves a pre-approval of the contact in place.
  ["outbound", "subscribe",    "None (pre-approved)",                "None + Pending Out (pre-approved)",  ["route"]],
  ["outbound", "subscribe",    "None + Pending Out (pre-approved)",  "None + Pending Out (pre-approved)",  ["route"]],
  ["outbound", "subscribe",    "To (pre-approved)",                  "To (pre-approved)",                  ["route"]],

  // A.2.2 outbound "unsubscribe": always routed, like "subscribe" (A.2).
  ["outbound", "unsubscribe",  "None",                               "None",                               ["route"]], // #1
  ["outbound", "unsubscribe",  "None + Pending Out",                 "None",                               ["route"]], // #2
  ["outbound", "unsubscribe",  "None + Pending In",                  "None + Pending In",                  ["route"]], // #3
  ["outbound", "unsubscribe",  "None + Pending Out+In",              "None + Pending In",                  ["route"]], // #4
  ["outbound", "unsubscribe",  "To",                                 "None",                               ["route"]], // #5
  ["outbound", "unsubscribe",  "To + Pending In",                    "None + Pending In",                  ["route"]], // #6
  ["outbound", "unsubscribe",  "From",                               "From",                               ["route"]], // #7
  ["outbound", "unsubscribe",  "From + Pending Out",                 "From",                               ["route"]], // #8
  ["outbound", "unsubscribe",  "Both",                               "From",                               ["route"]], // #9
  // §3.4: ending the user's own subscription does not touch the pre-approval of the contact's.
  ["outbound", "unsubscribe",  "None (pre-approved)",                "None (pre-approved)",                ["route"]],
  ["outbound", "unsubscribe",  "None + Pending Out (pre-approved)",  "None (pre-approved)",                ["route"]],
  ["outbound", "unsubscribe",  "To (pre-approved)",                  "None (pre-approved)",                ["route"]],

  // A.2.3 outbound "subscribed": routed only when it approves a pending request; the contact
  // then gets the user's current presence (§3.1.5). Without a request it is a pre-approval
  // (#1, #2, #5 and §3.4), recorded and not routed; when the contact is already subscribed it
  // is ignored.
  ["outbound", "subscribed",   "None",                               "None (pre-approved)",                NOTHING], // #1
  ["outbound", "subscribed",   "None + Pending Out",                 "None + Pending Out (pre-approved)",  NOTHING], // #2
  ["outbound", "subscribed",   "None + Pending In",                  "From",                               ["route", "current presence"]], // #3
  ["outbound", "subscribed",   "None + Pending Out+In",              "From + Pending Out",                 ["route", "current presence"]], // #4
  ["outbound", "subscribed",   "To",                                 "To (pre-approved)",                  NOTHING], // #5
  ["outbound", "subscribed",   "To + Pending In",                    "Both",                               ["route", "current presence"]], // #6
  ["outbound", "subscribed",   "From",                               "From",                               NOTHING], // #7
  ["outbound", "subscribed",   "From + Pending Out",                 "From + Pending Out",                 NOTHING], // #8
  ["outbound", "subscribed",   "Both",                               "Both",                               NOTHING], // #9
  // §3.4: already pre-approved; nothing more to record.
  ["outbound", "subscribed",   "None (pre-approved)",                "None (pre-approved)",                NOTHING],
  ["outbound", "subscribed",   "None + Pending Out (pre-approved)",  "None + Pending Out (pre-approved)",  NOTHING],
  ["outbound", "subscribed",   "To (pre-approved)",                  "To (pre-approved)",                  NOTHING],

  // A.2.4 outbound "unsubscribed": routed only when it denies a pending request or cancels the
  // contact's subscription; a cancelled subscriber also sees the user's resources go offline
  // (§3.2.2). Note: §3.2.2 wants that unavailable presence sent before the cancellation, while
  // the contact is still subscribed; the order below is the one this server has always used.
  ["outbound", "unsubscribed", "None",                               "None",                               NOTHING], // #1
  ["outbound", "unsubscribed", "None + Pending Out",                 "None + Pending Out",                 NOTHING], // #2
  ["outbound", "unsubscribed", "None + Pending In",                  "None",                               ["route"]], // #3
  ["outbound", "unsubscribed", "None + Pending Out+In",              "None + Pending Out",                 ["route"]], // #4
  ["outbound", "unsubscribed", "To",                                 "To",                                 NOTHING], // #5
  ["outbound", "unsubscribed", "To + Pending In",                    "To",                                 ["route"]], // #6
  ["outbound", "unsubscribed", "From",                               "None",                               ["route", "unavailable"]], // #7
  ["outbound", "unsubscribed", "From + Pending Out",                 "None + Pending Out",                 ["route", "unavailable"]], // #8
  ["outbound", "unsubscribed", "Both",                               "To",                                 ["route", "unavailable"]], // #9
  // A.2.4 footnote and §3.4: it withdraws a pre-approval, which the contact never knew of.
  ["outbound", "unsubscribed", "None (pre-approved)",                "None",                               NOTHING],
  ["outbound", "unsubscribed", "None + Pending Out (pre-approved)",  "None + Pending Out",                 NOTHING],
  ["outbound", "unsubscribed", "To (pre-approved)",                  "To",                                 NOTHING],

  // A.3.1 inbound "subscribe": a new request is delivered (and remembered, §3.1.3); a repeated
  // one is not; a contact already subscribed gets 'subscribed' back from the server (A.3.1
  // footnote): its server evidently lost the state, the user has nothing to decide.
  ["inbound",  "subscribe",    "None",                               "None + Pending In",                  ["deliver"]], // #1
  ["inbound",  "subscribe",    "None + Pending Out",                 "None + Pending Out+In",              ["deliver"]], // #2
  ["inbound",  "subscribe",    "None + Pending In",                  "None + Pending In",                  NOTHING], // #3
  ["inbound",  "subscribe",    "None + Pending Out+In",              "None + Pending Out+In",              NOTHING], // #4
  ["inbound",  "subscribe",    "To",                                 "To + Pending In",                    ["deliver"]], // #5
  ["inbound",  "subscribe",    "To + Pending In",                    "To + Pending In",                    NOTHING], // #6
  ["inbound",  "subscribe",    "From",                               "From",                               ["auto-reply"]], // #7
  ["inbound",  "subscribe",    "From + Pending Out",                 "From + Pending Out",                 ["auto-reply"]], // #8
  ["inbound",  "subscribe",    "Both",                               "Both",                               ["auto-reply"]], // #9
  // §3.4: a pre-approved request is granted by the server; the user never sees it.
  ["inbound",  "subscribe",    "None (pre-approved)",                "From",                               ["auto-reply", "current presence"]],
  ["inbound",  "subscribe",    "None + Pending Out (pre-approved)",  "From + Pending Out",                 ["auto-reply", "current presence"]],
  ["inbound",  "subscribe",    "To (pre-approved)",                  "Both",                               ["auto-reply", "current presence"]],

  // A.3.2 inbound "unsubscribe": delivered when the contact was subscribed or had a request
  // pending; a former subscriber sees the user's resources go offline (§3.3.3).
  ["inbound",  "unsubscribe",  "None",                               "None",                               NOTHING], // #1
  ["inbound",  "unsubscribe",  "None + Pending Out",                 "None + Pending Out",                 NOTHING], // #2
  ["inbound",  "unsubscribe",  "None + Pending In",                  "None",                               ["deliver"]], // #3
  ["inbound",  "unsubscribe",  "None + Pending Out+In",              "None + Pending Out",                 ["deliver"]], // #4
  ["inbound",  "unsubscribe",  "To",                                 "To",                                 NOTHING], // #5
  ["inbound",  "unsubscribe",  "To + Pending In",                    "To",                                 ["deliver"]], // #6
  ["inbound",  "unsubscribe",  "From",                               "None",                               ["deliver", "unavailable"]], // #7
  ["inbound",  "unsubscribe",  "From + Pending Out",                 "None + Pending Out",                 ["deliver", "unavailable"]], // #8
  ["inbound",  "unsubscribe",  "Both",                               "To",                                 ["deliver", "unavailable"]], // #9
  // §3.4: the user's pre-approval stays; the contact may still ask later.
  ["inbound",  "unsubscribe",  "None (pre-approved)",                "None (pre-approved)",                NOTHING],
  ["inbound",  "unsubscribe",  "None + Pending Out (pre-approved)",  "None + Pending Out (pre-approved)",  NOTHING],
  ["inbound",  "unsubscribe",  "To (pre-approved)",                  "To (pre-approved)",                  NOTHING],

  // A.3.3 inbound "subscribed": only an outstanding request of the user can be approved;
  // anything else is ignored (§3.1.6).
  ["inbound",  "subscribed",   "None",                               "None",                               NOTHING], // #1
  ["inbound",  "subscribed",   "None + Pending Out",                 "To",                                 ["deliver"]], // #2
  ["inbound",  "subscribed",   "None + Pending In",                  "None + Pending In",                  NOTHING], // #3
  ["inbound",  "subscribed",   "None + Pending Out+In",              "To + Pending In",                    ["deliver"]], // #4
  ["inbound",  "subscribed",   "To",                                 "To",                                 NOTHING], // #5
  ["inbound",  "subscribed",   "To + Pending In",                    "To + Pending In",                    NOTHING], // #6
  ["inbound",  "subscribed",   "From",                               "From",                               NOTHING], // #7
  ["inbound",  "subscribed",   "From + Pending Out",                 "Both",                               ["deliver"]], // #8
  ["inbound",  "subscribed",   "Both",                               "Both",                               NOTHING], // #9
  // As #1, #2 and #5, keeping the pre-approval.
  ["inbound",  "subscribed",   "None (pre-approved)",                "None (pre-approved)",                NOTHING],
  ["inbound",  "subscribed",   "None + Pending Out (pre-approved)",  "To (pre-approved)",                  ["deliver"]],
  ["inbound",  "subscribed",   "To (pre-approved)",                  "To (pre-approved)",                  NOTHING],

  // A.3.4 inbound "unsubscribed": delivered when it denies the user's request or cancels the
  // user's subscription (§3.2.3).
  ["inbound",  "unsubscribed", "None",                               "None",                               NOTHING], // #1
  ["inbound",  "unsubscribed", "None + Pending Out",                 "None",                               ["deliver"]], // #2
  ["inbound",  "unsubscribed", "None + Pending In",                  "None + Pending In",                  NOTHING], // #3
  ["inbound",  "unsubscribed", "None + Pending Out+In",              "None + Pending In",                  ["deliver"]], // #4
  ["inbound",  "unsubscribed", "To",                                 "None",                               ["deliver"]], // #5
  ["inbound",  "unsubscribed", "To + Pending In",                    "None + Pending In",                  ["deliver"]], // #6
  ["inbound",  "unsubscribed", "From",                               "From",                               NOTHING], // #7
  ["inbound",  "unsubscribed", "From + Pending Out",                 "From",                               ["deliver"]], // #8
  ["inbound",  "unsubscribed", "Both",                               "From",                               ["deliver"]], // #9
  // As #1, #2 and #5, keeping the pre-approval.
  ["inbound",  "unsubscribed", "None (pre-approved)",                "None (pre-approved)",                NOTHING],
  ["inbound",  "unsubscribed", "None + Pending Out (pre-approved)",  "None (pre-approved)",                ["deliver"]],
  ["inbound",  "unsubscribed", "To (pre-approved)",                  "None (pre-approved)",                ["deliver"]],
];

const key = (direction: Direction, type: SubscriptionType, state: SubscriptionState) => `${direction} ${type} ${state}`;

/** Built once; a missing or repeated row is a programming error, caught at load. */
const TABLE: ReadonlyMap<string, Transition> = (() => {
  const table = new Map<string, Transition>();
  for (const [direction, type, state, next, effects] of ROWS) {
    const k = key(direction, type, state);
    if (table.has(k)) throw new Error(`subscription table: two rows for ${k}`);
    table.set(k, { next, effects });
  }
  const expected = 2 * 4 * SUBSCRIPTION_STATES.length;
  if (table.size !== expected) throw new Error(`subscription table: ${table.size} rows, expected ${expected}`);
  return table;
})();

/** The row for a stanza of `type` travelling in `direction` while the item is in `state`. */
export function transitionFor(direction: Direction, type: SubscriptionType, state: SubscriptionState): Transition {
  return TABLE.get(key(direction, type, state))!;
}

/** How each state is stored in a RosterItem. */
const STORED: Record<SubscriptionState, Pick<RosterItem, "subscription" | "askOut" | "askIn" | "approved">> = {
  "None":                              stored("none", { askOut: false, askIn: false }),
  "None + Pending Out":                stored("none", { askOut: true, askIn: false }),
  "None + Pending In":                 stored("none", { askOut: false, askIn: true }),
  "None + Pending Out+In":             stored("none", { askOut: true, askIn: true }),
  "To":                                stored("to", { askOut: false, askIn: false }),
  "To + Pending In":                   stored("to", { askOut: false, askIn: true }),
  "From":                              stored("from", { askOut: false, askIn: false }),
  "From + Pending Out":                stored("from", { askOut: true, askIn: false }),
  "Both":                              stored("both", { askOut: false, askIn: false }),
  "None (pre-approved)":               stored("none", { askOut: false, askIn: false }, true),
  "None + Pending Out (pre-approved)": stored("none", { askOut: true, askIn: false }, true),
  "To (pre-approved)":                 stored("to", { askOut: false, askIn: false }, true),
};

function stored(subscription: Subscription, pending: { askOut: boolean; askIn: boolean }, approved = false) {
  return { subscription, ...pending, approved };
}

/**
 * The A.1 state of the user's item for a contact; no item at all is "None" (A.1). Flags that no
 * state can hold are ignored: a request pending towards a contact the user already receives
 * presence from, or from a contact already subscribed, has nothing left to wait for, and a
 * pre-approval only counts while the contact is neither subscribed nor asking (§3.4).
 */
export function stateOf(item: RosterItem | undefined): SubscriptionState {
  if (!item) return "None";
  const { askOut, askIn, approved } = item;
  switch (item.subscription) {
    case "both":
      return "Both";
    case "from":
      return askOut ? "From + Pending Out" : "From";
    case "to":
      if (askIn) return "To + Pending In";
      return approved ? "To (pre-approved)" : "To";
    case "none":
      if (askIn) return askOut ? "None + Pending Out+In" : "None + Pending In";
      if (approved) return askOut ? "None + Pending Out (pre-approved)" : "None (pre-approved)";
      return askOut ? "None + Pending Out" : "None";
  }
}

export function isPendingIn(state: SubscriptionState): boolean {
  return STORED[state].askIn;
}

/**
 * The item in the row's next state. The status text of a request is dropped with the request.
 * An item holding a subscription either way, or the user's own request, is shown in the roster
 * (§3.1.2, §3.1.5); only a contact's pending request and a pre-approval may live in a hidden
 * entry (inRoster=false), which is how the callers create them.
 */
export function applyTransition(item: RosterItem, transition: Transition): RosterItem {
  const next: RosterItem = { ...item, ...STORED[transition.next] };
  if (!next.askIn) next.askInStatus = undefined;
  if (next.subscription !== "none" || next.askOut) next.inRoster = true;
  return next;
}
