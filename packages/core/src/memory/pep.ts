/**
 * In-process PepStore (ports.ts): one Map of nodes per user, each node's items kept oldest
 * first. Atomic per user for free: no await between a check and its writes. Values are copied
 * in and out, like the rest of MemoryStore.
 */
import type { PepItem, PepNode, PepNodeConfig, PepStore } from "../ports.js";

interface HeldNode {
  config: PepNodeConfig;
  /** oldest first */
  items: PepItem[];
}

/** Per user: node name → node. MemoryStore's account deletion drops the user's entry. */
export type PepData = Map<string, Map<string, HeldNode>>;

export class MemoryPepStore implements PepStore {
  private readonly caps = new Map<string, string[]>();

  constructor(private readonly data: PepData) {}

  async nodes(owner: string): Promise<PepNode[]> {
    return [...(this.data.get(owner) ?? [])]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([node, held]) => ({ node, config: { ...held.config } }));
  }

  async nodesOf(owners: string[]): Promise<Map<string, PepNode[]>> {
    const out = new Map<string, PepNode[]>();
    for (const owner of owners) if (this.data.has(owner)) out.set(owner, await this.nodes(owner));
    return out;
  }

  async node(owner: string, node: string): Promise<PepNodeConfig | undefined> {
    const held = this.data.get(owner)?.get(node);
    return held && { ...held.config };
  }

  async create(owner: string, node: string, config: PepNodeConfig, maxNodes: number): Promise<"created" | "exists" | "limit"> {
    const nodes = this.data.get(owner) ?? new Map<string, HeldNode>();
    if (nodes.has(node)) return "exists";
    if (nodes.size >= maxNodes) return "limit";
    nodes.set(node, { config: { ...config }, items: [] });
    this.data.set(owner, nodes);
    return "created";
  }

  async configure(owner: string, node: string, config: PepNodeConfig): Promise<boolean> {
    const held = this.data.get(owner)?.get(node);
    if (!held) return false;
    held.config = { ...config };
    trim(held, config.maxItems);
    return true;
  }

  async delete(owner: string, node: string): Promise<boolean> {
    const nodes = this.data.get(owner);
    const existed = nodes?.delete(node) ?? false;
    if (nodes?.size === 0) this.data.delete(owner);
    return existed;
  }

  async publish(owner: string, node: string, item: PepItem, maxItems: number): Promise<boolean> {
    const held = this.data.get(owner)?.get(node);
    if (!held) return false;
    held.items = held.items.filter((i) => i.id !== item.id);
    held.items.push({ ...item });
    trim(held, maxItems);
    return true;
  }

  async items(owner: string, node: string, limit?: number): Promise<PepItem[]> {
    const items = [...(this.data.get(owner)?.get(node)?.items ?? [])].reverse();
    return items.slice(0, limit ?? items.length).map((i) => ({ ...i }));
  }

  async itemsById(owner: string, node: string, ids: string[]): Promise<PepItem[]> {
    const wanted = new Set(ids);
    return (await this.items(owner, node)).filter((i) => wanted.has(i.id));
  }

  async retract(owner: string, node: string, id: string): Promise<boolean> {
    const held = this.data.get(owner)?.get(node);
    if (!held) return false;
    const before = held.items.length;
    held.items = held.items.filter((i) => i.id !== id);
    return held.items.length !== before;
  }

  async capsGet(key: string): Promise<string[] | undefined> {
    const features = this.caps.get(key);
    return features && [...features];
  }

  async capsPut(key: string, features: string[]): Promise<void> {
    this.caps.set(key, [...features]);
  }
}

function trim(held: HeldNode, maxItems: number): void {
  if (held.items.length > maxItems) held.items.splice(0, held.items.length - maxItems);
}
