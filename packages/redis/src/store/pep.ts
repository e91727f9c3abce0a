/**
 * Redis PepStore (XEP-0163 nodes and items) under the user's hash tag, two keys per user so
 * account deletion stays a fixed key list (keys.ts): `pepNodes`, node → JSON `{config, order}`
 * (`order`: item ids, oldest first), and `pepItems`, `node NUL id` → JSON item (NUL cannot occur
 * in XML, so no node name and id pair collides). Every change that touches the order runs in
 * one script. The XEP-0115 caps cache is global, one string per verified `hash ver`.
 */
import type { PepItem, PepNode, PepNodeConfig, PepStore } from "@switchboard/core";
import { userKeys } from "./keys.js";
import type { RedisClient } from "./scripts.js";

/** Drops ids from the front of `order` past ARGV max, deleting their items (KEYS[2]). */
const TRIM = `
local function trim(order, max, prefix)
  while #order > max do redis.call('HDEL', KEYS[2], prefix .. table.remove(order, 1)) end
end
`;

/** ARGV node, config JSON, maxNodes. */
const CREATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'limit' end
redis.call('HSET', KEYS[1], ARGV[1], '{"config":' .. ARGV[2] .. ',"order":[]}')
return 'created'`;

/** ARGV node, config JSON, its maxItems. */
const CONFIGURE = `${TRIM}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local n = cjson.decode(raw)
n.config = cjson.decode(ARGV[2])
trim(n.order, tonumber(ARGV[3]), ARGV[1] .. '\\0')
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(n))
return 1`;

/** ARGV node, item id, item JSON, maxItems. */
const PUBLISH = `${TRIM}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local n = cjson.decode(raw)
local order = {}
for _, id in ipairs(n.order) do if id ~= ARGV[2] then order[#order + 1] = id end end
order[#order + 1] = ARGV[2]
redis.call('HSET', KEYS[2], ARGV[1] .. '\\0' .. ARGV[2], ARGV[3])
trim(order, tonumber(ARGV[4]), ARGV[1] .. '\\0')
n.order = order
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(n))
return 1`;

/** ARGV node, item id. */
const RETRACT = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local n = cjson.decode(raw)
local order, found = {}, 0
for _, id in ipairs(n.order) do
  if id == ARGV[2] then found = 1 else order[#order + 1] = id end
end
if found == 0 then return 0 end
n.order = order
redis.call('HDEL', KEYS[2], ARGV[1] .. '\\0' .. ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(n))
return 1`;

/** ARGV node. */
const DELETE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
for _, id in ipairs(cjson.decode(raw).order) do redis.call('HDEL', KEYS[2], ARGV[1] .. '\\0' .. id) end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`;

const SCRIPTS = {
  switchboardPepCreate: CREATE,
  switchboardPepConfigure: CONFIGURE,
  switchboardPepPublish: PUBLISH,
  switchboardPepRetract: RETRACT,
  switchboardPepDelete: DELETE,
} as const;
const CAPS_TTL_SECONDS = 30 * 86_400;
type Call = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

interface HeldNode {
  config: PepNodeConfig;
  /** cjson writes an empty array as {} */
  order: string[] | Record<string, never>;
}

export function redisPep(client: RedisClient, prefix: string): PepStore {
  for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 2, lua });
  const call = (name: keyof typeof SCRIPTS, owner: string, ...args: Array<string | number>): Promise<unknown> => {
    const keys = userKeys(prefix, owner);
    return (client as unknown as Record<string, Call>)[name]!(keys.pepNodes, keys.pepItems, ...args);
  };
  const held = async (owner: string, node: string): Promise<HeldNode | undefined> => {
    const raw = await client.hget(userKeys(prefix, owner).pepNodes, node);
    return raw === null ? undefined : (JSON.parse(raw) as HeldNode);
  };
  const items = async (owner: string, node: string, limit?: number): Promise<PepItem[]> => {
    const h = await held(owner, node);
    const order = Array.isArray(h?.order) ? [...h.order].reverse() : [];
    const ids = order.slice(0, limit ?? order.length);
    if (ids.length === 0) return [];
    const raws = await client.hmget(userKeys(prefix, owner).pepItems, ...ids.map((id) => `${node}\0${id}`));
    return raws.flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as PepItem]));
  };
  const capsKey = (key: string) => `${prefix}:caps:${Buffer.from(key).toString("base64url")}`;

  const listed = (all: Record<string, string>): PepNode[] =>
    Object.entries(all)
      .map(([node, raw]) => ({ node, config: (JSON.parse(raw) as HeldNode).config }))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

  return {
    async nodes(owner) {
      return listed(await client.hgetall(userKeys(prefix, owner).pepNodes));
    },
    async nodesOf(owners) {
      const out = new Map<string, PepNode[]>();
      if (owners.length === 0) return out;
      // Each owner's key lives in its own slot, so no script can read them all: one pipeline
      // (one round trip), or on a Redis Cluster, where a pipeline must stay on one node,
      // concurrent commands (one connection per node, as accounts.ts createMany does).
      const keys = owners.map((owner) => userKeys(prefix, owner).pepNodes);
      let replies: Array<Record<string, string>>;
      if (client.isCluster) replies = await Promise.all(keys.map((key) => client.hgetall(key)));
      else {
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.hgetall(key);
        replies = ((await pipeline.exec()) ?? []).map(([err, all]) => {
          if (err) throw err;
          return all as Record<string, string>;
        });
      }
      replies.forEach((all, i) => {
        const nodes = listed(all);
        if (nodes.length > 0) out.set(owners[i]!, nodes);
      });
      return out;
    },
    async node(owner, node) {
      return (await held(owner, node))?.config;
    },
    async create(owner, node, config, maxNodes) {
      return (await call("switchboardPepCreate", owner, node, JSON.stringify(config), maxNodes)) as "created" | "exists" | "limit";
    },
    async configure(owner, node, config) {
      return (await call("switchboardPepConfigure", owner, node, JSON.stringify(config), config.maxItems)) === 1;
    },
    async delete(owner, node) {
      return (await call("switchboardPepDelete", owner, node)) === 1;
    },
    async publish(owner, node, item, maxItems) {
      return (await call("switchboardPepPublish", owner, node, item.id, JSON.stringify(item), maxItems)) === 1;
    },
    items,
    async itemsById(owner, node, ids) {
      const wanted = new Set(ids);
      return (await items(owner, node)).filter((i) => wanted.has(i.id));
    },
    async retract(owner, node, id) {
      return (await call("switchboardPepRetract", owner, node, id)) === 1;
    },
    async capsGet(key) {
      const raw = await client.get(capsKey(key));
      return raw === null ? undefined : (JSON.parse(raw) as string[]);
    },
    async capsPut(key, features) {
      // kept a month after its last verification: a hash nobody announces any more goes away,
      // one still in use is verified again (once) when it reappears
      await client.set(capsKey(key), JSON.stringify(features), "EX", CAPS_TTL_SECONDS);
    },
  };
}
