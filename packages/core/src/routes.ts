/**
 * Where a domain's stanzas go (ARCHITECTURE.md "Routes and an addressable bus"): the served
 * domain is local (accounts, the server itself); a hosted component's domain (MUC at
 * conference.<domain>) is routed to that component, wherever in the cluster it runs; any other
 * domain is remote (federation). The router fires one event per kind of route:
 * `<kind>/<target>` for local, `route/component` for a component, `route/remote` otherwise.
 */
export type Route = { kind: "local" } | { kind: "component"; component: string } | { kind: "remote" };

const LOCAL: Route = { kind: "local" };
const REMOTE: Route = { kind: "remote" };

export class Routes {
  private readonly components = new Map<string, Route & { kind: "component" }>();

  constructor(readonly localDomain: string) {}

  /** Routes `domain` to a hosted component named `component`; returns a function that removes it. */
  addComponent(domain: string, component: string): () => void {
    const name = domain.toLowerCase();
    if (name === this.localDomain) throw new Error(`${domain} is the server's own domain, it cannot be a component`);
    if (this.components.has(name)) throw new Error(`${domain} is already routed to component ${this.components.get(name)!.component}`);
    const route = { kind: "component" as const, component };
    this.components.set(name, route);
    return () => {
      if (this.components.get(name) === route) this.components.delete(name);
    };
  }

  resolve(domain: string): Route {
    if (domain === this.localDomain) return LOCAL;
    return this.components.get(domain) ?? REMOTE;
  }

  /** The hosted component domains (for the server's disco#items), by domain. */
  componentDomains(): Array<{ domain: string; component: string }> {
    return [...this.components].map(([domain, r]) => ({ domain, component: r.component })).sort((a, b) => a.domain.localeCompare(b.domain));
  }
}
