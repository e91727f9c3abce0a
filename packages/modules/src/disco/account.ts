/**
 * What other modules add to an account's disco answers (XEP-0030 §3.1, §4.1): identities
 * beside 'account/registered' (XEP-0163 §6.1 'pubsub/pep') and the items an account lists
 * (XEP-0163 §6.2: its PEP nodes). Per Host, like items.ts.
 */
import type { DiscoIdentity, Host } from "@switchboard/core";
import type { DiscoItem } from "./items.js";

/** The items of `account` that `requester` (a bare JID) may see. */
export type AccountItemsProvider = (account: string, requester: string) => Promise<DiscoItem[]>;

interface AccountDisco {
  identities: Set<DiscoIdentity>;
  items: Set<AccountItemsProvider>;
}

const byHost = new WeakMap<Host, AccountDisco>();

function of(host: Host): AccountDisco {
  let d = byHost.get(host);
  if (!d) byHost.set(host, (d = { identities: new Set(), items: new Set() }));
  return d;
}

export function addAccountIdentity(host: Host, identity: DiscoIdentity): () => void {
  const set = of(host).identities;
  set.add(identity);
  return () => set.delete(identity);
}

export function addAccountItems(host: Host, provider: AccountItemsProvider): () => void {
  const set = of(host).items;
  set.add(provider);
  return () => set.delete(provider);
}

export function accountIdentities(host: Host): DiscoIdentity[] {
  return [...of(host).identities];
}

export async function accountItems(host: Host, account: string, requester: string): Promise<DiscoItem[]> {
  const out: DiscoItem[] = [];
  for (const provider of of(host).items) out.push(...(await provider(account, requester)));
  return out;
}
