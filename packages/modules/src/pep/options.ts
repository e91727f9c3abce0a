/** The PEP service's operator limits, `pep.*` in the server configuration. */
import { option, type OptionsOf } from "@switchboard/core";

export const PEP_OPTIONS = {
  maxItemBytes: option.integer(1, 16 * 1024 * 1024, 65_536, "Largest serialized payload of one PEP item (XEP-0163); bigger gets <not-acceptable/> with <payload-too-big/>."),
  maxNodeNameLength: option.integer(1, 4096, 256, "Longest PEP node name, in characters; longer gets <policy-violation/>."),
  maxNodesPerUser: option.integer(1, 100_000, 100, "Most PEP nodes one account may hold; a new one past it gets <policy-violation/>."),
  maxItemsPerNode: option.integer(1, 100_000, 256, "Most items one PEP node keeps (its pubsub#max_items is capped to it, and 'max' means it); the oldest go first."),
};
export type PepOptions = OptionsOf<typeof PEP_OPTIONS>;
