/** In-process StanzaBus: delivers to handlers subscribed in the same process, in order. */
import type { BusEnvelope, StanzaBus } from "../ports.js";

export class MemoryStanzaBus implements StanzaBus {
  private readonly handlers = new Map<string, Set<(env: BusEnvelope) => void>>();

  async publish(nodeId: string, envelope: BusEnvelope): Promise<void> {
    const set = this.handlers.get(nodeId);
    if (!set || set.size === 0) throw new Error(`no subscriber for node ${nodeId}`);
    for (const h of set) h(envelope);
  }

  subscribe(nodeId: string, handler: (env: BusEnvelope) => void): () => void {
    let set = this.handlers.get(nodeId);
    if (!set) this.handlers.set(nodeId, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
