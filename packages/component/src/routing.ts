/**
 * Routing for external components (XEP-0114), on every node whether it has the listener or not:
 * each configured component domain is a component route of the host (core/routes.ts); a stanza
 * for it is written to the component's stream when this node holds it, and otherwise handed
 * over the bus to the node that does (directory.ts), as a component envelope the bus ledger
 * keeps until that node confirms it. The server's disco#items (XEP-0030 §4) lists the
 * components connected anywhere in the cluster, as it lists the MUC service.
 *
 * A component that is not connected cannot take anything: a message or IQ request to it is
 * answered `<service-unavailable/>` (RFC 6120 §8.3.3.19), presence and answers (IQ results,
 * errors) are dropped, since nobody waits for them and an error to an error is forbidden (§8.3.1).
 */
import { Element, parseFrame, tryParseJid } from "@switchboard/xml";
import { defineModule, type ComponentEnvelope, type Host, type ModuleDefinition, type StanzaKind } from "@switchboard/core";
import { addDiscoItem } from "@switchboard/modules";
import { ComponentDirectory } from "./directory.js";

/** the route name of every external component's domain in host.routes */
export const COMPONENT_ROUTE = "xep0114";

export interface ComponentHost {
  domain: string;
  secret: string;
}

export interface ComponentsModuleDeps {
  hosts: readonly ComponentHost[];
  /** the directory, once made (the listener claims domains in it) */
  onDirectory?: (directory: ComponentDirectory) => void;
}

/** a stanza that someone waits for an answer to: a message (not an error) or an IQ request */
function expectsAnswer(stanza: Element): boolean {
  const type = stanza.attrs.type;
  if (stanza.name === "message") return type !== "error";
  return stanza.name === "iq" && (type === "get" || type === "set");
}

export function componentsModule(deps: ComponentsModuleDeps): ModuleDefinition<Record<string, never>> {
  return defineModule({
    name: "components",
    spec: "XEP-0114",
    options: {},
    setup(ctx) {
      const { host } = ctx;
      const listed = new Map<string, () => void>();
      const directory = new ComponentDirectory(host, (domain, connected) => {
        if (connected) listed.set(domain, addDiscoItem(host, { jid: domain }));
        else {
          listed.get(domain)?.();
          listed.delete(domain);
        }
      });
      directory.start();
      ctx.onUnload(() => directory.stop());
      for (const { domain } of deps.hosts) ctx.onUnload(host.routes.addComponent(domain, COMPONENT_ROUTE));
      deps.onDirectory?.(directory);

      ctx.on("route/component", async (ev) => {
        if (ev.component !== COMPONENT_ROUTE) return false;
        const domain = ev.to.domain;
        const node = directory.holder(domain);
        if (node === host.nodeId) {
          if (directory.localLink(domain)?.send(ev.stanza) === "written") return true;
        } else if (node !== undefined) {
          const env: ComponentEnvelope = { kind: "component", component: COMPONENT_ROUTE, shard: domain, xml: ev.stanza.toString() };
          try {
            await host.publishComponent(node, env, ev.stanza);
            return true;
          } catch (err) {
            ctx.log.warn({ err, domain, node }, "could not hand a stanza for a component to its node");
          }
        }
        // Not connected (or it could not take it): the router answers service-unavailable.
        return !expectsAnswer(ev.stanza);
      });

      ctx.on("bus/component", async ({ envelope }) => {
        if (envelope.component !== COMPONENT_ROUTE) return false;
        let stanza: Element;
        try {
          stanza = parseFrame(envelope.xml);
        } catch (err) {
          ctx.log.warn({ err, domain: envelope.shard }, "malformed component stanza on the bus");
          return true;
        }
        if (directory.localLink(envelope.shard)?.send(stanza) === "written") return true;
        // It went away while the stanza was on the bus: its sender hears so.
        await bounce(host, stanza);
        return true;
      });
    },
  });
}

async function bounce(host: Host, stanza: Element): Promise<void> {
  if (!expectsAnswer(stanza)) return;
  const from = tryParseJid(stanza.attrs.from ?? host.domain);
  const to = tryParseJid(stanza.attrs.to ?? "");
  if (!from || !to) return;
  await host.router.bounce({ stanza, kind: stanza.name as StanzaKind, from, to }, "service-unavailable", `${to.domain} is not available right now`);
}
