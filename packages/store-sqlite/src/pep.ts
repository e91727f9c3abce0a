/**
 * SQLite PepStore (XEP-0163 nodes and items, the XEP-0115 caps cache): migration 6 tables.
 * Items keep their publication order in an AUTOINCREMENT sequence, so "newest first" and
 * "drop the oldest past max_items" are one ORDER BY each; multi-row steps are IMMEDIATE
 * transactions like the rest of the store.
 */
import type Database from "better-sqlite3";
import type { PepItem, PepNode, PepNodeConfig, PepStore } from "@switchboard/core";

interface ItemRow {
  id: string;
  xml: string;
  publisher: string;
  at: number;
}

export interface SqlitePep {
  store: PepStore;
  /** account deletion: every node and item of the user (run inside its transaction) */
  deleteOwner(owner: string): void;
}

export function sqlitePep(db: Database.Database): SqlitePep {
  const sql = {
    nodes: db.prepare<[owner: string], { node: string; config: string }>("SELECT node, config FROM pep_nodes WHERE owner = ?"),
    node: db.prepare<[owner: string, node: string], { config: string }>("SELECT config FROM pep_nodes WHERE owner = ? AND node = ?"),
    countNodes: db.prepare<[owner: string], { n: number }>("SELECT COUNT(*) AS n FROM pep_nodes WHERE owner = ?"),
    insertNode: db.prepare<[owner: string, node: string, config: string]>("INSERT INTO pep_nodes (owner, node, config) VALUES (?, ?, ?)"),
    updateNode: db.prepare<[config: string, owner: string, node: string]>("UPDATE pep_nodes SET config = ? WHERE owner = ? AND node = ?"),
    deleteNode: db.prepare<[owner: string, node: string]>("DELETE FROM pep_nodes WHERE owner = ? AND node = ?"),
    deleteNodeItems: db.prepare<[owner: string, node: string]>("DELETE FROM pep_items WHERE owner = ? AND node = ?"),
    deleteItem: db.prepare<[owner: string, node: string, id: string]>("DELETE FROM pep_items WHERE owner = ? AND node = ? AND id = ?"),
    insertItem: db.prepare<[owner: string, node: string, id: string, xml: string, publisher: string, at: number]>(
      "INSERT INTO pep_items (owner, node, id, xml, publisher, at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    trim: db.prepare<[owner: string, node: string, owner2: string, node2: string, keep: number]>(
      "DELETE FROM pep_items WHERE owner = ? AND node = ? AND seq NOT IN " +
        "(SELECT seq FROM pep_items WHERE owner = ? AND node = ? ORDER BY seq DESC LIMIT ?)",
    ),
    items: db.prepare<[owner: string, node: string, limit: number], ItemRow>(
      "SELECT id, xml, publisher, at FROM pep_items WHERE owner = ? AND node = ? ORDER BY seq DESC LIMIT ?",
    ),
    deleteOwnerNodes: db.prepare<[owner: string]>("DELETE FROM pep_nodes WHERE owner = ?"),
    deleteOwnerItems: db.prepare<[owner: string]>("DELETE FROM pep_items WHERE owner = ?"),
    capsGet: db.prepare<[key: string], { features: string }>("SELECT features FROM caps_features WHERE key = ?"),
    capsPut: db.prepare<[key: string, features: string]>(
      "INSERT INTO caps_features (key, features) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET features = excluded.features",
    ),
  };

  const trim = (owner: string, node: string, keep: number) => sql.trim.run(owner, node, owner, node, keep);

  const create = db.transaction((owner: string, node: string, config: PepNodeConfig, maxNodes: number) => {
    if (sql.node.get(owner, node)) return "exists" as const;
    if (sql.countNodes.get(owner)!.n >= maxNodes) return "limit" as const;
    sql.insertNode.run(owner, node, JSON.stringify(config));
    return "created" as const;
  });
  const configure = db.transaction((owner: string, node: string, config: PepNodeConfig) => {
    if (sql.updateNode.run(JSON.stringify(config), owner, node).changes === 0) return false;
    trim(owner, node, config.maxItems);
    return true;
  });
  const remove = db.transaction((owner: string, node: string) => {
    sql.deleteNodeItems.run(owner, node);
    return sql.deleteNode.run(owner, node).changes > 0;
  });
  const publish = db.transaction((owner: string, node: string, item: PepItem, maxItems: number) => {
    if (!sql.node.get(owner, node)) return false;
    sql.deleteItem.run(owner, node, item.id);
    sql.insertItem.run(owner, node, item.id, item.xml, item.publisher, item.at);
    trim(owner, node, maxItems);
    return true;
  });
  const items = (owner: string, node: string, limit?: number): PepItem[] =>
    sql.items.all(owner, node, limit ?? -1).map((r) => ({ id: r.id, xml: r.xml, publisher: r.publisher, at: r.at }));

  const store: PepStore = {
    async nodes(owner) {
      return sql.nodes
        .all(owner)
        .map((r) => ({ node: r.node, config: JSON.parse(r.config) as PepNodeConfig }))
        .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    },
    async nodesOf(owners) {
      const out = new Map<string, PepNode[]>();
      for (const owner of owners) {
        const nodes = await store.nodes(owner);
        if (nodes.length > 0) out.set(owner, nodes);
      }
      return out;
    },
    async node(owner, node) {
      const row = sql.node.get(owner, node);
      return row && (JSON.parse(row.config) as PepNodeConfig);
    },
    async create(owner, node, config, maxNodes) {
      return create.immediate(owner, node, config, maxNodes);
    },
    async configure(owner, node, config) {
      return configure.immediate(owner, node, config);
    },
    async delete(owner, node) {
      return remove.immediate(owner, node);
    },
    async publish(owner, node, item, maxItems) {
      return publish.immediate(owner, node, item, maxItems);
    },
    async items(owner, node, limit) {
      return items(owner, node, limit);
    },
    async itemsById(owner, node, ids) {
      const wanted = new Set(ids);
      return items(owner, node).filter((i) => wanted.has(i.id));
    },
    async retract(owner, node, id) {
      return sql.deleteItem.run(owner, node, id).changes > 0;
    },
    async capsGet(key) {
      const row = sql.capsGet.get(key);
      return row && (JSON.parse(row.features) as string[]);
    },
    async capsPut(key, features) {
      sql.capsPut.run(key, JSON.stringify(features));
    },
  };
  return {
    store,
    deleteOwner(owner) {
      sql.deleteOwnerItems.run(owner);
      sql.deleteOwnerNodes.run(owner);
    },
  };
}
