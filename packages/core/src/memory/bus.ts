/** In-process StanzaBus: delivers to handlers subscribed in the same process, in order. */
import type { BusEnvelope, ControlMessage, StanzaBus, TapEvent } from "../ports.js";

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

  private readonly control = new Set<(m: ControlMessage) => void>();

  async publishControl(message: ControlMessage): Promise<void> {
    for (const h of this.control) h(message);
  }

  /** One process is one node: the handlers have run when this returns. */
  async publishControlConfirmed(message: ControlMessage, _nodes: number, _timeoutMs: number): Promise<number> {
    await this.publishControl(message);
    return 1;
  }

  subscribeControl(handler: (message: ControlMessage) => void): () => void {
    this.control.add(handler);
    return () => this.control.delete(handler);
  }

  private readonly taps = new Map<string, Set<(e: TapEvent) => void>>();

  async publishTap(event: TapEvent): Promise<void> {
    for (const topic of [event.user, "*"]) for (const h of this.taps.get(topic) ?? []) h(event);
  }

  subscribeTap(user: string, handler: (event: TapEvent) => void): () => void {
    let set = this.taps.get(user);
    if (!set) this.taps.set(user, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  private readonly served = new Map<string, Set<(body: unknown) => Promise<unknown>>>();

  serveRequests(topic: string, handler: (body: unknown) => Promise<unknown>): () => void {
    let set = this.served.get(topic);
    if (!set) this.served.set(topic, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Every handler in this process answers; the body goes through JSON as it would on a wire. */
  async requestAll(topic: string, body: unknown, _opts: { timeoutMs: number }): Promise<unknown[]> {
    const wire = JSON.stringify(body);
    const answers: unknown[] = [];
    for (const h of [...(this.served.get(topic) ?? [])]) {
      try {
        answers.push(JSON.parse(JSON.stringify((await h(JSON.parse(wire))) ?? null)));
      } catch (err) {
        answers.push({ error: (err as Error).message });
      }
    }
    return answers;
  }

  /** An in-process bus never disconnects. */
  onReconnect(_handler: () => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.control.clear();
    this.taps.clear();
    this.served.clear();
  }
}
