/** What the server advertises in disco#info (XEP-0030) and stream features; modules add to it. */
export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

export class DiscoRegistry {
  /** features of the server domain */
  readonly hostFeatures = new Set<string>();
  /** features answered on behalf of an account (bare JID) */
  readonly accountFeatures = new Set<string>();
  readonly identities: DiscoIdentity[] = [{ category: "server", type: "im", name: "Switchboard" }];

  addHostFeature(ns: string): () => void {
    this.hostFeatures.add(ns);
    return () => this.hostFeatures.delete(ns);
  }

  addAccountFeature(ns: string): () => void {
    this.accountFeatures.add(ns);
    return () => this.accountFeatures.delete(ns);
  }
}
