import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, CONFIG_SCHEMA, adminTokenFile, ROLES, checkBackendSettings, defaultConfig, describeConfig, envName, loadConfig, rolesOf } from "./config.js";
import { configMarkdownTable, exampleYaml } from "./config-docs.js";

const repoRoot = resolve(import.meta.dirname, "../../..");

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "sb-config-"));
}

function yamlFile(text: string): string {
  const path = join(tempDir(), "switchboard.yaml");
  writeFileSync(path, text);
  return path;
}

function loadError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("returns the documented defaults with nothing configured", () => {
    const config = loadConfig({ env: {}, cwd: "/srv/sb" });
    expect(config).toMatchObject({
      domain: "localhost",
      dataDir: "/srv/sb/data",
      bind: "0.0.0.0",
      log: { level: "info", format: "auto" },
      c2s: { port: 5222, tlsPort: 5223, requireTls: true },
      http: { port: 5280, websocketPath: "/xmpp-websocket" },
      tls: {},
      limits: {
        maxStanzaBytes: 262144, maxDepth: 32, outboundBufferBytes: 1048576, congestionTimeoutSeconds: 60, authFailuresPerIp: 5,
        authFailureWindowSeconds: 60, offlinePerUser: 100, handshakeTimeoutSeconds: 30,
        tlsHandshakeSeconds: 10, maxUnauthenticated: 10000, maxUnauthenticatedPerIp: 2000,
      },
      shutdown: { drainSeconds: 20 },
      registration: { enabled: false, perIpPerHour: 5 },
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.nodeId).toMatch(/^node-[0-9a-f]{6}$/);
  });

  it("gives each process a different default node id", () => {
    expect(defaultConfig().nodeId).not.toBe(defaultConfig().nodeId);
  });

  it("applies defaults < file < env < overrides", () => {
    const file = yamlFile("domain: file.example\nc2s:\n  port: 1111\n  tlsPort: 2222\nhttp:\n  port: 3333\n");
    const config = loadConfig({
      file,
      env: { SWITCHBOARD_C2S_TLS_PORT: "4444", SWITCHBOARD_HTTP_PORT: "5555" },
      overrides: { http: { port: 6666 } },
    });
    expect(config.domain).toBe("file.example");
    expect(config.c2s).toEqual({ port: 1111, tlsPort: 4444, requireTls: true, proxyProtocol: false });
    expect(config.http.port).toBe(6666);
  });

  it("reads the file named by SWITCHBOARD_CONFIG, relative to cwd", () => {
    const file = yamlFile("domain: Chat.Example.ORG\n");
    const config = loadConfig({ env: { SWITCHBOARD_CONFIG: "switchboard.yaml" }, cwd: resolve(file, "..") });
    expect(config.domain).toBe("chat.example.org");
  });

  it("parses env booleans, levels, urls and resolves paths against cwd", () => {
    const config = loadConfig({
      cwd: "/opt/x",
      env: {
        SWITCHBOARD_REGISTRATION: "yes", SWITCHBOARD_LOG_LEVEL: "DEBUG", SWITCHBOARD_DATA_DIR: "state",
        SWITCHBOARD_TLS_CERT: "a.crt", SWITCHBOARD_TLS_KEY: "/etc/a.key", SWITCHBOARD_OFFLINE_MAX: "7",
        SWITCHBOARD_REDIS_URL: "rediss://r:6380/0", SWITCHBOARD_NATS_URL: "nats://a:4222, nats://b:4222",
        SWITCHBOARD_BIND: "::",
      },
    });
    expect(config.registration.enabled).toBe(true);
    expect(config.log.level).toBe("debug");
    expect(config.dataDir).toBe("/opt/x/state");
    expect(config.tls).toEqual({ cert: "/opt/x/a.crt", key: "/etc/a.key" });
    expect(config.limits.offlinePerUser).toBe(7);
    expect(config.redisUrl).toBe("rediss://r:6380/0");
    expect(config.natsUrl).toBe("nats://a:4222,nats://b:4222");
    expect(config.bind).toBe("::");
    expect(loadConfig({ env: { SWITCHBOARD_REGISTRATION: "0" } }).registration.enabled).toBe(false);
  });

  it("treats an empty environment variable as unset", () => {
    expect(loadConfig({ env: { SWITCHBOARD_C2S_PORT: "", SWITCHBOARD_REDIS_URL: " " } }).c2s.port).toBe(5222);
  });

  it("gives stream management its defaults, overridable by SWITCHBOARD_SM_*", () => {
    expect(defaultConfig().sm).toMatchObject({ ackEvery: 5, ackAfterSeconds: 30, resumeTimeoutSeconds: 300, maxQueue: 500, maxUnacked: 5000 });
    expect(loadConfig({ env: { SWITCHBOARD_SM_RESUME_TIMEOUT_SECONDS: "0" } }).sm.resumeTimeoutSeconds).toBe(0);
  });

  it("gives the archive its defaults (XEP-0313), overridable by SWITCHBOARD_MAM_* and SWITCHBOARD_POSTGRES_URL", () => {
    expect(defaultConfig().mam).toEqual({ enabled: true, maxMessagesPerUser: 100_000, retentionDays: 0 });
    expect(defaultConfig().postgresUrl).toBeUndefined();
    const cfg = loadConfig({ env: { SWITCHBOARD_MAM_ENABLED: "false", SWITCHBOARD_MAM_RETENTION_DAYS: "30", SWITCHBOARD_POSTGRES_URL: "postgres://sb@127.0.0.1:5432/sb" } });
    expect(cfg.mam).toMatchObject({ enabled: false, retentionDays: 30 });
    expect(cfg.postgresUrl).toBe("postgres://sb@127.0.0.1:5432/sb");
  });

  it("takes http.websocketUrl only as one ws:// or wss:// URL (host-meta, XEP-0156)", () => {
    expect(defaultConfig().http.websocketUrl).toBeUndefined();
    expect(loadConfig({ env: { SWITCHBOARD_HTTP_WEBSOCKET_URL: "wss://x.example/ws" } }).http.websocketUrl).toBe("wss://x.example/ws");
    for (const bad of ["https://x.example/ws", "not a url", "wss://a/ws,wss://b/ws"]) {
      const err = loadError(() => loadConfig({ env: { SWITCHBOARD_HTTP_WEBSOCKET_URL: bad } }));
      expect(err.key).toBe("http.websocketUrl");
      expect(err.message).toMatch(/ws:\/\/ or wss:\/\//);
    }
  });

  it("accepts port 0 (pick a free port)", () => {
    expect(loadConfig({ env: { SWITCHBOARD_C2S_PORT: "0" } }).c2s.port).toBe(0);
  });

  it("names the key, the value and the variable for a bad env value", () => {
    const err = loadError(() => loadConfig({ env: { SWITCHBOARD_C2S_PORT: "abc" } }));
    expect(err.key).toBe("c2s.port");
    expect(err.message).toBe('config: c2s.port: must be an integer from 0 to 65535, got "abc" (from SWITCHBOARD_C2S_PORT)');
  });

  it.each([
    ["SWITCHBOARD_HTTP_PORT", "65536", "http.port"],
    ["SWITCHBOARD_C2S_PORT", "-1", "c2s.port"],
    ["SWITCHBOARD_C2S_PORT", "52.5", "c2s.port"],
    ["SWITCHBOARD_DOMAIN", "bad domain", "domain"],
    ["SWITCHBOARD_DOMAIN", "-x.org", "domain"],
    ["SWITCHBOARD_REGISTRATION", "maybe", "registration.enabled"],
    ["SWITCHBOARD_C2S_PROXY_PROTOCOL", "v2", "c2s.proxyProtocol"],
    ["SWITCHBOARD_HTTP_TRUST_FORWARDED_FOR", "sometimes", "http.trustForwardedFor"],
    ["SWITCHBOARD_LOG_LEVEL", "verbose", "log.level"],
    ["SWITCHBOARD_LOG_FORMAT", "xml", "log.format"],
    ["SWITCHBOARD_NODE_ID", "edge.1", "nodeId"],
    ["SWITCHBOARD_REDIS_URL", "http://x", "redisUrl"],
    ["SWITCHBOARD_NATS_URL", "nats://a,redis://b", "natsUrl"],
    ["SWITCHBOARD_BIND", "not an address", "bind"],
    ["SWITCHBOARD_SM_RESUME_TIMEOUT_SECONDS", "-1", "sm.resumeTimeoutSeconds"],
    ["SWITCHBOARD_SM_RESUME_TIMEOUT_SECONDS", "86401", "sm.resumeTimeoutSeconds"],
    ["SWITCHBOARD_SM_ACK_EVERY", "0", "sm.ackEvery"],
    ["SWITCHBOARD_SM_ACK_AFTER_SECONDS", "soon", "sm.ackAfterSeconds"],
    ["SWITCHBOARD_SM_MAX_QUEUE", "0", "sm.maxQueue"],
    ["SWITCHBOARD_SM_MAX_UNACKED", "1e9", "sm.maxUnacked"],
    ["SWITCHBOARD_POSTGRES_URL", "mysql://db/x", "postgresUrl"],
    ["SWITCHBOARD_POSTGRES_URL", "postgres://a/x,postgres://b/x", "postgresUrl"],
    ["SWITCHBOARD_MAM_ENABLED", "yes please", "mam.enabled"],
    ["SWITCHBOARD_MAM_MAX_MESSAGES_PER_USER", "-1", "mam.maxMessagesPerUser"],
    ["SWITCHBOARD_MAM_MAX_MESSAGES_PER_USER", "10000001", "mam.maxMessagesPerUser"],
    ["SWITCHBOARD_MAM_RETENTION_DAYS", "1.5", "mam.retentionDays"],
    ["SWITCHBOARD_MAM_RETENTION_DAYS", "36501", "mam.retentionDays"],
    ["SWITCHBOARD_PEP_MAX_ITEM_BYTES", "0", "pep.maxItemBytes"],
    ["SWITCHBOARD_PEP_MAX_NODE_NAME_LENGTH", "long", "pep.maxNodeNameLength"],
    ["SWITCHBOARD_PEP_MAX_NODES_PER_USER", "100001", "pep.maxNodesPerUser"],
    ["SWITCHBOARD_PEP_MAX_ITEMS_PER_NODE", "-3", "pep.maxItemsPerNode"],
    ["SWITCHBOARD_MODULES_CAPS_VERIFICATIONS_PER_SESSION", "0", "modules.caps.verificationsPerSession"],
  ])("rejects %s=%s", (variable, value, key) => {
    const err = loadError(() => loadConfig({ env: { [variable]: value } }));
    expect(err.key).toBe(key);
    expect(err.message).toContain(`(from ${variable})`);
  });

  it("rejects an unknown YAML key and suggests the near miss", () => {
    const file = yamlFile("c2s:\n  prot: 5222\n");
    const err = loadError(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe("c2s.prot");
    expect(err.message).toContain("unknown key");
    expect(err.message).toContain("did you mean c2s.port?");
    expect(err.message).toContain(file);
  });

  it("rejects a bad value in the file, naming the file", () => {
    const file = yamlFile("limits:\n  maxDepth: 0\n");
    const err = loadError(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe("limits.maxDepth");
    expect(err.message).toContain(`(from ${file})`);
  });

  it("rejects a section given as a scalar", () => {
    const err = loadError(() => loadConfig({ file: yamlFile("c2s: 5222\n"), env: {} }));
    expect(err.key).toBe("c2s");
  });

  it("reports a missing file and invalid YAML naming the file", () => {
    const missing = join(tempDir(), "nope.yaml");
    expect(loadError(() => loadConfig({ file: missing, env: {} })).message).toContain(missing);
    const broken = yamlFile("domain: [unclosed\n");
    const err = loadError(() => loadConfig({ file: broken, env: {} }));
    expect(err.key).toBe("file");
    expect(err.message).toContain(broken);
    expect(err.message).toContain("not valid YAML");
  });

  it("rejects only one of tls.cert and tls.key", () => {
    const err = loadError(() => loadConfig({ env: { SWITCHBOARD_TLS_CERT: "/x.crt" } }));
    expect(err.key).toBe("tls.key");
  });

  it.each([
    ["c2s:\n  requireTls: \"yes\"\n", "c2s.requireTls", "true or false"],
    ["c2s:\n  requireTls: yes\n", "c2s.requireTls", "true or false"],
    ["registration:\n  enabled: on\n", "registration.enabled", "true or false"],
    ["c2s:\n  port: \"12\"\n", "c2s.port", "YAML number"],
    ["limits:\n  maxDepth: \"40\"\n", "limits.maxDepth", "YAML number"],
  ])("refuses YAML 1.1 booleans and quoted numbers in the file: %j", (text, key, form) => {
    const file = yamlFile(text);
    const err = loadError(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe(key);
    expect(err.message).toContain(form);
    expect(err.message).toContain(file);
  });

  it("keeps accepting 1/0, yes/no, on/off and digit strings from the environment", () => {
    const config = loadConfig({ env: { SWITCHBOARD_C2S_REQUIRE_TLS: "off", SWITCHBOARD_REGISTRATION_ENABLED: "on", SWITCHBOARD_C2S_PORT: "12" } });
    expect(config.c2s.requireTls).toBe(false);
    expect(config.registration.enabled).toBe(true);
    expect(config.c2s.port).toBe(12);
  });

  it("validates every layer, even one a later layer overrides", () => {
    const file = yamlFile("c2s:\n  port: 99999\n");
    const err = loadError(() => loadConfig({ file, env: { SWITCHBOARD_C2S_PORT: "5222" } }));
    expect(err.key).toBe("c2s.port");
    expect(err.message).toContain(file);
    const fromEnv = loadError(() => loadConfig({ env: { SWITCHBOARD_C2S_PORT: "x" }, overrides: { c2s: { port: 1 } } }));
    expect(fromEnv.message).toContain("SWITCHBOARD_C2S_PORT");
  });

  it("accepts the older variable names as aliases, the mechanical one winning", () => {
    const warnings: string[] = [];
    expect(loadConfig({ env: { SWITCHBOARD_OFFLINE_MAX: "7" } }).limits.offlinePerUser).toBe(7);
    const both = loadConfig({ env: { SWITCHBOARD_LIMITS_OFFLINE_PER_USER: "9", SWITCHBOARD_OFFLINE_MAX: "7" }, onWarning: (w) => warnings.push(w) });
    expect(both.limits.offlinePerUser).toBe(9);
    expect(warnings).toEqual(["SWITCHBOARD_LIMITS_OFFLINE_PER_USER and SWITCHBOARD_OFFLINE_MAX both set limits.offlinePerUser; SWITCHBOARD_LIMITS_OFFLINE_PER_USER wins"]);
  });

  it("warns about a SWITCHBOARD_* variable that names no key, with the near miss", () => {
    const warnings: string[] = [];
    const config = loadConfig({ env: { SWITCHBOARD_C2S_PROT: "1", SWITCHBOARD_CONFIG: "", SWITCHBOARD_TEST_REDIS_URL: "x", OTHER: "y" }, onWarning: (w) => warnings.push(w) });
    expect(config.c2s.port).toBe(5222);
    expect(warnings).toEqual(["environment variable SWITCHBOARD_C2S_PROT names no configuration key; did you mean SWITCHBOARD_C2S_PORT?"]);
  });

  it("reads contact addresses as a YAML list or a comma-separated variable, and refuses non-URIs", () => {
    const file = yamlFile('contact:\n  abuse: ["mailto:abuse@example.org", "xmpp:abuse@example.org"]\n');
    expect(loadConfig({ file, env: {} }).contact.abuse).toEqual(["mailto:abuse@example.org", "xmpp:abuse@example.org"]);
    expect(loadConfig({ env: { SWITCHBOARD_CONTACT_ADMIN: "xmpp:a@example.org, https://example.org/contact" } }).contact.admin)
      .toEqual(["xmpp:a@example.org", "https://example.org/contact"]);
    expect(loadError(() => loadConfig({ env: { SWITCHBOARD_CONTACT_ABUSE: "abuse@example.org" } })).key).toBe("contact.abuse");
  });

  it("offers every option a module declares as modules.<name>.<option>, with its mechanical variable", () => {
    const file = yamlFile("modules:\n  ping:\n    keepaliveSeconds: 60\n  roster:\n    maxItems: 500\n");
    const config = loadConfig({ file, env: { SWITCHBOARD_MODULES_PING_TIMEOUT_SECONDS: "10" } });
    expect(config.modules.ping).toEqual({ keepaliveSeconds: 60, timeoutSeconds: 10 });
    expect(config.modules.roster?.maxItems).toBe(500);
    expect(defaultConfig().modules.ping).toEqual({ keepaliveSeconds: 0, timeoutSeconds: 30 });
    expect(loadError(() => loadConfig({ env: { SWITCHBOARD_MODULES_ROSTER_MAX_ITEMS: "0" } })).key).toBe("modules.roster.maxItems");
    const typo = loadError(() => loadConfig({ file: yamlFile("modules:\n  ping:\n    intervalSeconds: 5\n"), env: {} }));
    expect(typo.message).toContain("unknown key");
    // an option a top-level key sets has no modules.* key of its own
    expect(CONFIG_SCHEMA.map((s) => s.key)).not.toContain("modules.offline.maxPerUser");
  });

  it("validates overrides and names them", () => {
    const err = loadError(() => loadConfig({ env: {}, overrides: { domain: "a b" }, overridesSource: "--domain" }));
    expect(err.message).toContain("(from --domain)");
  });
});

describe("documentation stays in step with the schema", () => {
  it("describes every key once", () => {
    const keys = describeConfig().map((row) => row.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toContain("limits.outboundBufferBytes");
  });

  it("docs/configuration.md contains the generated table", () => {
    const doc = readFileSync(join(repoRoot, "docs/configuration.md"), "utf8");
    expect(doc).toContain(configMarkdownTable());
  });

  it("switchboard.example.yaml is the generated file, and loads to the defaults", () => {
    const path = join(repoRoot, "switchboard.example.yaml");
    expect(readFileSync(path, "utf8"), "run pnpm gen:config").toBe(exampleYaml());
    const fromExample = loadConfig({ file: path, env: {}, cwd: "/w", overrides: { nodeId: "n1" } });
    expect(fromExample).toEqual({ ...defaultConfig("/w"), nodeId: "n1" });
  });

  it("gives every key its mechanical environment variable", () => {
    expect(envName("limits.maxStanzaBytes")).toBe("SWITCHBOARD_LIMITS_MAX_STANZA_BYTES");
    expect(envName("c2s.tlsPort")).toBe("SWITCHBOARD_C2S_TLS_PORT");
    expect(envName("dataDir")).toBe("SWITCHBOARD_DATA_DIR");
    for (const row of describeConfig()) expect(row.env).toContain(`\`${envName(row.key)}\``);
  });
});

describe("cluster settings", () => {
  it("refuses an unknown role, naming the key and the variable", () => {
    const err = loadError(() => loadConfig({ env: { SWITCHBOARD_ROLE: "router" } }));
    expect(err.key).toBe("role");
    expect(err.message).toMatch(/SWITCHBOARD_ROLE/);
  });

  it("takes the backends from the URLs alone: both for a cluster, neither for embedded, one is an error", () => {
    expect(loadConfig({ env: { SWITCHBOARD_ROLE: "edge" } }).role).toBe("edge");
    const half = loadConfig({ env: { SWITCHBOARD_ROLE: "edge", SWITCHBOARD_REDIS_URL: "redis://127.0.0.1:6379" } });
    const err = loadError(() => checkBackendSettings(half));
    expect(err.key).toBe("natsUrl");
    expect(err.message).toMatch(/SWITCHBOARD_NATS_URL/);
    expect(loadError(() => checkBackendSettings({ natsUrl: "nats://127.0.0.1:4222" })).key).toBe("redisUrl");
    expect(() => checkBackendSettings({})).not.toThrow();
    const ok = loadConfig({
      env: { SWITCHBOARD_ROLE: "edge", SWITCHBOARD_REDIS_URL: "redis://127.0.0.1:6379", SWITCHBOARD_NATS_URL: "nats://127.0.0.1:4222" },
    });
    expect(ok.role).toBe("edge");
  });

  it("composes roles from a comma-separated list, all meaning every role of the build", () => {
    expect(rolesOf(loadConfig({ env: {} }).role)).toEqual([...ROLES]);
    expect(loadConfig({ env: { SWITCHBOARD_ROLE: " Edge " } }).role).toBe("edge");
    expect(loadError(() => loadConfig({ env: { SWITCHBOARD_ROLE: "edge,edge" } })).message).toContain("names a role twice");
    expect(loadConfig({ env: { SWITCHBOARD_ROLE: "muc, edge" } }).role).toBe("muc,edge");
    expect(rolesOf("muc,edge")).toEqual(["muc", "edge"]);
    expect(loadError(() => loadConfig({ env: { SWITCHBOARD_ROLE: "edge,s2s" } })).message).toContain('unknown role "s2s"');
  });

  it("paces presence broadcasts with limits.presencePerSecond and limits.presenceBurst (SWITCHBOARD_LIMITS_PRESENCE_*)", () => {
    expect(loadConfig({ env: {} }).limits).toMatchObject({ presencePerSecond: 1, presenceBurst: 5 });
    const cfg = loadConfig({ env: { SWITCHBOARD_LIMITS_PRESENCE_PER_SECOND: "0", SWITCHBOARD_LIMITS_PRESENCE_BURST: "20" } });
    expect(cfg.limits).toMatchObject({ presencePerSecond: 0, presenceBurst: 20 });
    expect(loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_PRESENCE_PER_SECOND: "-1" } })).key).toBe("limits.presencePerSecond");
    expect(loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_PRESENCE_BURST: "0" } })).message).toMatch(/SWITCHBOARD_LIMITS_PRESENCE_BURST/);
  });

  it("offers the MUC settings as muc.* with SWITCHBOARD_MUC_* variables, bounds and the admins list", () => {
    const cfg = loadConfig({
      env: { SWITCHBOARD_MUC_MAX_OCCUPANTS: "500", SWITCHBOARD_MUC_DOMAIN: "Rooms.Example.org", SWITCHBOARD_MUC_CREATE_ROOMS: "admins", SWITCHBOARD_ADMINS: "Boss@Example.org, ops@example.org" },
    });
    expect(cfg.muc).toMatchObject({ maxOccupants: 500, domain: "rooms.example.org", createRooms: "admins", maxNickLength: 64, messagesPerSecond: 2 });
    expect(cfg.admins).toEqual(["boss@example.org", "ops@example.org"]);
    expect(loadConfig({ env: {} }).muc).toMatchObject({ domain: "", maxRoomIdLength: 100, maxRoomsPerUser: 100, minJoinIntervalSeconds: 2 });
    const bad = (env: Record<string, string>) => loadError(() => loadConfig({ env }));
    expect(bad({ SWITCHBOARD_MUC_MAX_OCCUPANTS: "-1" }).key).toBe("muc.maxOccupants");
    expect(bad({ SWITCHBOARD_MUC_MAX_NICK_LENGTH: "0" }).message).toMatch(/SWITCHBOARD_MUC_MAX_NICK_LENGTH/);
    expect(bad({ SWITCHBOARD_MUC_CREATE_ROOMS: "nobody" }).key).toBe("muc.createRooms");
    expect(bad({ SWITCHBOARD_MUC_DOMAIN: "not a domain" }).key).toBe("muc.domain");
    expect(bad({ SWITCHBOARD_ADMINS: "admin@example.org/phone" }).key).toBe("admins");
    expect(bad({ SWITCHBOARD_ADMINS: "example.org" }).key).toBe("admins");
  });

  it("caps sessions per user with limits.maxSessionsPerUser (SWITCHBOARD_LIMITS_MAX_SESSIONS_PER_USER, default 10, 0 = off)", () => {
    expect(loadConfig({ env: {} }).limits.maxSessionsPerUser).toBe(10);
    expect(loadConfig({ env: { SWITCHBOARD_LIMITS_MAX_SESSIONS_PER_USER: "0" } }).limits.maxSessionsPerUser).toBe(0);
    const err = loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_MAX_SESSIONS_PER_USER: "-1" } }));
    expect(err.key).toBe("limits.maxSessionsPerUser");
    expect(err.message).toMatch(/SWITCHBOARD_LIMITS_MAX_SESSIONS_PER_USER/);
    expect(loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_MAX_SESSIONS_PER_USER: "ten" } })).key).toBe("limits.maxSessionsPerUser");
  });

  it("bounds handshakes in flight with limits.maxConcurrentHandshakes (SWITCHBOARD_LIMITS_MAX_CONCURRENT_HANDSHAKES, default 256, 0 = no cap)", () => {
    expect(loadConfig({ env: {} }).limits.maxConcurrentHandshakes).toBe(256);
    expect(loadConfig({ env: { SWITCHBOARD_LIMITS_MAX_CONCURRENT_HANDSHAKES: "0" } }).limits.maxConcurrentHandshakes).toBe(0);
    expect(loadConfig({ env: { SWITCHBOARD_LIMITS_MAX_CONCURRENT_HANDSHAKES: "8" } }).limits.maxConcurrentHandshakes).toBe(8);
    for (const bad of ["-1", "2.5", "many", "1000001"]) {
      const err = loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_MAX_CONCURRENT_HANDSHAKES: bad } }));
      expect(err.key).toBe("limits.maxConcurrentHandshakes");
      expect(err.message).toMatch(/SWITCHBOARD_LIMITS_MAX_CONCURRENT_HANDSHAKES/);
    }
    expect(loadError(() => loadConfig({ overrides: { limits: { maxConcurrentHandshakes: -5 } } })).key).toBe("limits.maxConcurrentHandshakes");
  });

  it("sets a cluster-wide login budget with limits.loginsPerSecond (SWITCHBOARD_LIMITS_LOGINS_PER_SECOND, default 0 = none)", () => {
    expect(loadConfig({ env: {} }).limits.loginsPerSecond).toBe(0);
    expect(loadConfig({ env: { SWITCHBOARD_LIMITS_LOGINS_PER_SECOND: "200" } }).limits.loginsPerSecond).toBe(200);
    for (const bad of ["-3", "0.5", "fast"]) {
      const err = loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_LOGINS_PER_SECOND: bad } }));
      expect(err.key).toBe("limits.loginsPerSecond");
      expect(err.message).toMatch(/SWITCHBOARD_LIMITS_LOGINS_PER_SECOND/);
    }
  });

  it("rates new connections per address with limits.connectionsPerIpPerSecond (SWITCHBOARD_LIMITS_CONNECTIONS_PER_IP_PER_SECOND, default 0 = off)", () => {
    expect(loadConfig({ env: {} }).limits.connectionsPerIpPerSecond).toBe(0);
    expect(loadConfig({ env: { SWITCHBOARD_LIMITS_CONNECTIONS_PER_IP_PER_SECOND: "20" } }).limits.connectionsPerIpPerSecond).toBe(20);
    const err = loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_CONNECTIONS_PER_IP_PER_SECOND: "1.5" } }));
    expect(err.key).toBe("limits.connectionsPerIpPerSecond");
    expect(err.message).toMatch(/SWITCHBOARD_LIMITS_CONNECTIONS_PER_IP_PER_SECOND/);
  });

  it("bounds the CSI queue with modules.csi.maxHeld (SWITCHBOARD_MODULES_CSI_MAX_HELD, default 500, 1..100000)", () => {
    expect(loadConfig({ env: {} }).modules.csi?.maxHeld).toBe(500);
    expect(loadConfig({ env: { SWITCHBOARD_MODULES_CSI_MAX_HELD: "50" } }).modules.csi?.maxHeld).toBe(50);
    for (const bad of ["0", "many", "100001"]) {
      const err = loadError(() => loadConfig({ env: { SWITCHBOARD_MODULES_CSI_MAX_HELD: bad } }));
      expect(err.key).toBe("modules.csi.maxHeld");
      expect(err.message).toContain("SWITCHBOARD_MODULES_CSI_MAX_HELD");
    }
  });

  it("keeps the admin token in admin.tokenFile (SWITCHBOARD_ADMIN_TOKEN_FILE), by default <dataDir>/admin-token", () => {
    const cfg = loadConfig({ env: { SWITCHBOARD_DATA_DIR: "/var/lib/sb" } });
    expect(cfg.admin.tokenFile).toBeUndefined();
    expect(adminTokenFile(cfg)).toBe("/var/lib/sb/admin-token");
    const set = loadConfig({ env: { SWITCHBOARD_ADMIN_TOKEN_FILE: "secrets/token" }, cwd: "/etc/sb" });
    expect(adminTokenFile(set)).toBe("/etc/sb/secrets/token");
  });

  it("rates each user with limits.userStanzasPerSecond, userStanzaBurst, userBytesPerSecond and floodSeconds (SWITCHBOARD_LIMITS_USER_*, SWITCHBOARD_LIMITS_FLOOD_SECONDS)", () => {
    expect(loadConfig({ env: {} }).limits).toMatchObject({ userStanzasPerSecond: 50, userStanzaBurst: 200, userBytesPerSecond: 262144, floodSeconds: 30 });
    const cfg = loadConfig({
      env: { SWITCHBOARD_LIMITS_USER_STANZAS_PER_SECOND: "0", SWITCHBOARD_LIMITS_USER_STANZA_BURST: "500", SWITCHBOARD_LIMITS_USER_BYTES_PER_SECOND: "1048576", SWITCHBOARD_LIMITS_FLOOD_SECONDS: "5" },
    });
    expect(cfg.limits).toMatchObject({ userStanzasPerSecond: 0, userStanzaBurst: 500, userBytesPerSecond: 1048576, floodSeconds: 5 });
    for (const [name, value, key] of [
      ["SWITCHBOARD_LIMITS_USER_STANZAS_PER_SECOND", "-5", "limits.userStanzasPerSecond"],
      ["SWITCHBOARD_LIMITS_USER_STANZA_BURST", "0", "limits.userStanzaBurst"],
      ["SWITCHBOARD_LIMITS_USER_BYTES_PER_SECOND", "256k", "limits.userBytesPerSecond"],
      ["SWITCHBOARD_LIMITS_FLOOD_SECONDS", "0", "limits.floodSeconds"],
    ] as const) {
      const err = loadError(() => loadConfig({ env: { [name]: value } }));
      expect(err.key).toBe(key);
      expect(err.message).toContain(name);
    }
  });

  it("takes limits.outboundBufferBytes as the high-water mark and limits.congestionTimeoutSeconds (SWITCHBOARD_LIMITS_CONGESTION_TIMEOUT_SECONDS) for slow receivers", () => {
    expect(loadConfig({ env: {} }).limits).toMatchObject({ outboundBufferBytes: 1048576, congestionTimeoutSeconds: 60 });
    const cfg = loadConfig({ env: { SWITCHBOARD_LIMITS_OUTBOUND_BUFFER_BYTES: "65536", SWITCHBOARD_LIMITS_CONGESTION_TIMEOUT_SECONDS: "3" } });
    expect(cfg.limits).toMatchObject({ outboundBufferBytes: 65536, congestionTimeoutSeconds: 3 });
    for (const value of ["0", "-1", "1.5", "soon", "86401"]) {
      const err = loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_CONGESTION_TIMEOUT_SECONDS: value } }));
      expect(err.key).toBe("limits.congestionTimeoutSeconds");
      expect(err.message).toContain("SWITCHBOARD_LIMITS_CONGESTION_TIMEOUT_SECONDS");
    }
    const yamlErr = loadError(() => loadConfig({ file: yamlFile("limits:\n  congestionTimeoutSeconds: \"60\"\n"), env: {} }));
    expect(yamlErr.key).toBe("limits.congestionTimeoutSeconds");
    const small = loadError(() => loadConfig({ env: { SWITCHBOARD_LIMITS_OUTBOUND_BUFFER_BYTES: "1000" } }));
    expect(small.key).toBe("limits.outboundBufferBytes");
  });

  it("lets metrics.allowCidrs (SWITCHBOARD_METRICS_ALLOW_CIDRS) name who reads /metrics, and refuses what is not a CIDR block", () => {
    expect(loadConfig({ env: {} }).metrics.allowCidrs).toEqual(["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]);
    expect(loadConfig({ env: { SWITCHBOARD_METRICS_ALLOW_CIDRS: "10.2.0.0/16, 2001:db8::/32,192.0.2.7" } }).metrics.allowCidrs).toEqual(["10.2.0.0/16", "2001:db8::/32", "192.0.2.7"]);
    for (const bad of ["10.0.0.0/33", "example.org", "10.0.0.0/8/1", "::1/129", "10.0.0.0/x"]) {
      const err = loadError(() => loadConfig({ env: { SWITCHBOARD_METRICS_ALLOW_CIDRS: bad } }));
      expect(err.key).toBe("metrics.allowCidrs");
      expect(err.message).toMatch(/CIDR blocks such as 10\.0\.0\.0\/8/);
    }
  });

  it("refuses a cluster prefix that would break Redis hash tags or NATS subjects", () => {
    for (const bad of ["a{b}", "with.dot", "x".repeat(33)]) {
      expect(loadError(() => loadConfig({ env: { SWITCHBOARD_CLUSTER_PREFIX: bad } })).key).toBe("clusterPrefix");
    }
    expect(loadConfig({ env: { SWITCHBOARD_CLUSTER_PREFIX: "prod_1" } }).clusterPrefix).toBe("prod_1");
  });

  it("samples traces by tracing.sampleRatio (SWITCHBOARD_TRACING_SAMPLE_RATIO, default 0.01, 0 to 1)", () => {
    expect(loadConfig({ env: {} }).tracing.sampleRatio).toBe(0.01);
    expect(loadConfig({ env: { SWITCHBOARD_TRACING_SAMPLE_RATIO: "0.25" } }).tracing.sampleRatio).toBe(0.25);
    expect(loadConfig({ env: { SWITCHBOARD_TRACING_SAMPLE_RATIO: "1" } }).tracing.sampleRatio).toBe(1);
    expect(loadConfig({ env: {}, overrides: { tracing: { sampleRatio: 0 } } }).tracing.sampleRatio).toBe(0);
    for (const bad of ["1.5", "-0.1", "1%", "half", "0,5"]) {
      const err = loadError(() => loadConfig({ env: { SWITCHBOARD_TRACING_SAMPLE_RATIO: bad } }));
      expect(err.key).toBe("tracing.sampleRatio");
      expect(err.message).toMatch(/SWITCHBOARD_TRACING_SAMPLE_RATIO/);
      expect(err.message).toMatch(/from 0 to 1/);
    }
    // YAML is typed: a quoted number is refused like any other key's
    expect(loadError(() => loadConfig({ env: {}, overrides: { tracing: { sampleRatio: "0.5" as never } } })).key).toBe("tracing.sampleRatio");
  });
});

describe("alerts", () => {
  it("reads alerts.rules (YAML list, JSON in SWITCHBOARD_ALERTS_RULES), alerts.webhookUrl and alerts.evaluateSeconds, and names the key of a bad value", () => {
    const defaults = loadConfig({ env: {} }).alerts;
    expect(defaults.evaluateSeconds).toBe(10);
    expect(defaults.webhookUrl).toBeUndefined();
    expect(defaults.rules.map((r) => r.name)).toEqual(["heavy-sender", "heavy-upload", "heavy-download", "outlier-sender", "outlier-upload", "outlier-download"]);
    const file = yamlFile(
      "alerts:\n  webhookUrl: https://ops.example.org/hook\n  evaluateSeconds: 5\n  rules:\n    - name: heavy-sender\n      measure: stanzas_in_per_second\n      above: 100\n      forSeconds: 60\n    - name: odd\n      measure: iqs_out_per_second\n      aboveP99Times: 10\n      forSeconds: 300\n",
    );
    const cfg = loadConfig({ file, env: {} }).alerts;
    expect(cfg).toEqual({
      webhookUrl: "https://ops.example.org/hook",
      evaluateSeconds: 5,
      rules: [
        { name: "heavy-sender", measure: "stanzas_in_per_second", above: 100, forSeconds: 60 },
        { name: "odd", measure: "iqs_out_per_second", aboveP99Times: 10, forSeconds: 300 },
      ],
    });
    expect(loadConfig({ file: yamlFile("alerts:\n  rules: []\n"), env: {} }).alerts.rules).toEqual([]);
    const fromEnv = loadConfig({ env: { SWITCHBOARD_ALERTS_RULES: '[{"name":"up","measure":"bytes_in_per_second","above":1024,"forSeconds":30}]' } });
    expect(fromEnv.alerts.rules).toEqual([{ name: "up", measure: "bytes_in_per_second", above: 1024, forSeconds: 30 }]);

    for (const [env, key, why] of [
      [{ SWITCHBOARD_ALERTS_WEBHOOK_URL: "ftp://ops.example.org/hook" }, "alerts.webhookUrl", /http:\/\/ or https:\/\//],
      [{ SWITCHBOARD_ALERTS_WEBHOOK_URL: "not a url" }, "alerts.webhookUrl", /http:\/\/ or https:\/\//],
      [{ SWITCHBOARD_ALERTS_EVALUATE_SECONDS: "0" }, "alerts.evaluateSeconds", /from 1 to 3600/],
      [{ SWITCHBOARD_ALERTS_RULES: "[{name: x}]" }, "alerts.rules", /JSON list of rules/],
      [{ SWITCHBOARD_ALERTS_RULES: '{"name":"x"}' }, "alerts.rules", /must be a list of rules/],
    ] as const) {
      const err = loadError(() => loadConfig({ env }));
      expect(err.key).toBe(key);
      expect(err.message).toMatch(why);
      expect(err.message).toContain(Object.keys(env)[0]);
    }
    for (const [yaml, why] of [
      ["- name: a\n  measure: stanzas_per_hour\n  above: 1\n  forSeconds: 60", /rule 1 \("a"\): measure must be one of stanzas_in_per_second/],
      ["- name: a\n  measure: stanzas_in_per_second\n  forSeconds: 60", /rule 1 \("a"\): needs a threshold/],
      ["- name: a\n  measure: stanzas_in_per_second\n  above: \"100\"\n  forSeconds: 60", /above must be a number/],
      ["- name: a\n  measure: stanzas_in_per_second\n  aboveP99Times: 0.5\n  forSeconds: 60", /aboveP99Times must be a number of at least 1/],
      ["- name: a\n  measure: stanzas_in_per_second\n  above: 1\n  forSeconds: 0", /forSeconds must be a whole number of seconds from 1 to 3600/],
      ["- name: a\n  measure: stanzas_in_per_second\n  above: 1\n  forSeconds: 60\n  for: 60", /unknown field "for"/],
      ["- name: a\n  measure: stanzas_in_per_second\n  above: 1\n  forSeconds: 60\n- name: a\n  measure: bytes_in_per_second\n  above: 1\n  forSeconds: 60", /rule 2: the name "a" is used twice/],
      ["- name: user-flood\n  measure: stanzas_in_per_second\n  above: 1\n  forSeconds: 60", /per-user limit's own alert/],
      ["heavy-sender", /must be a list of rules/],
    ] as const) {
      const body = yaml.split("\n").map((l) => `    ${l}`).join("\n");
      const err = loadError(() => loadConfig({ file: yamlFile(`alerts:\n  rules:\n${yaml.startsWith("-") ? body : `    ${yaml}`}\n`.replace("rules:\n    heavy", "rules: heavy")), env: {} }));
      expect(err.key).toBe("alerts.rules");
      expect(err.message).toMatch(why);
    }
  });

  it("has the upload keys (XEP-0363) and http.tlsPort with their defaults, and refuses bad values naming the key", () => {
    const config = loadConfig({ env: {} });
    expect(config.http.tlsPort).toBe(5443);
    expect(config.http.tlsProxyProtocol).toBe(false);
    expect(config.upload).toEqual({
      enabled: true, maxFileBytes: 104857600, quotaBytesPerUser: 1073741824, slotsPerMinute: 30, allowedTypes: [], expireDays: 30, slotSeconds: 300,
      s3: { bucket: "switchboard-uploads", region: "us-east-1" },
    });
    const set = loadConfig({
      env: {
        SWITCHBOARD_HTTP_TLS_PORT: "0", SWITCHBOARD_UPLOAD_ALLOWED_TYPES: "Image/*, application/pdf", SWITCHBOARD_UPLOAD_S3_ENDPOINT: "http://127.0.0.1:9000",
        SWITCHBOARD_UPLOAD_S3_ACCESS_KEY_ID: "AK", SWITCHBOARD_UPLOAD_S3_SECRET_ACCESS_KEY: "SK", SWITCHBOARD_UPLOAD_EXPIRE_DAYS: "0",
      },
    });
    expect(set.http.tlsPort).toBe(0);
    expect(set.upload).toMatchObject({ allowedTypes: ["image/*", "application/pdf"], expireDays: 0, s3: { endpoint: "http://127.0.0.1:9000", accessKeyId: "AK", secretAccessKey: "SK" } });
    for (const [variable, value, key] of [
      ["SWITCHBOARD_HTTP_TLS_PORT", "65536", "http.tlsPort"],
      ["SWITCHBOARD_HTTP_TLS_PROXY_PROTOCOL", "v2", "http.tlsProxyProtocol"],
      ["SWITCHBOARD_UPLOAD_ENABLED", "perhaps", "upload.enabled"],
      ["SWITCHBOARD_UPLOAD_MAX_FILE_BYTES", "0", "upload.maxFileBytes"],
      ["SWITCHBOARD_UPLOAD_QUOTA_BYTES_PER_USER", "-1", "upload.quotaBytesPerUser"],
      ["SWITCHBOARD_UPLOAD_SLOTS_PER_MINUTE", "many", "upload.slotsPerMinute"],
      ["SWITCHBOARD_UPLOAD_ALLOWED_TYPES", "image", "upload.allowedTypes"],
      ["SWITCHBOARD_UPLOAD_ALLOWED_TYPES", "*/png", "upload.allowedTypes"],
      ["SWITCHBOARD_UPLOAD_EXPIRE_DAYS", "36501", "upload.expireDays"],
      ["SWITCHBOARD_UPLOAD_SLOT_SECONDS", "5", "upload.slotSeconds"],
      ["SWITCHBOARD_UPLOAD_S3_ENDPOINT", "s3://bucket", "upload.s3.endpoint"],
      ["SWITCHBOARD_UPLOAD_S3_BUCKET", "My_Bucket", "upload.s3.bucket"],
      ["SWITCHBOARD_UPLOAD_S3_REGION", "us east", "upload.s3.region"],
    ] as const) {
      const err = loadError(() => loadConfig({ env: { [variable]: value } }));
      expect(err.key, `${variable}=${value}`).toBe(key);
      expect(err.message).toContain(`(from ${variable})`);
    }
  });
});

describe("external components and push", () => {
  it("reads components.port and components.hosts (SWITCHBOARD_COMPONENTS_*), a top-level components list as the hosts, off by default", () => {
    expect(defaultConfig().components).toEqual({ port: 0, hosts: [] });
    const env = loadConfig({ env: { SWITCHBOARD_COMPONENTS_PORT: "5347", SWITCHBOARD_COMPONENTS_HOSTS: "push.example.org=s3cret, Bot.Example.org = two=parts" } });
    expect(env.components).toEqual({ port: 5347, hosts: [{ domain: "push.example.org", secret: "s3cret" }, { domain: "bot.example.org", secret: "two=parts" }] });
    const section = loadConfig({ file: yamlFile("components:\n  port: 5347\n  hosts:\n    - domain: push.example.org\n      secret: s3cret\n"), env: {} });
    expect(section.components.hosts).toEqual([{ domain: "push.example.org", secret: "s3cret" }]);
    const shorthand = loadConfig({ file: yamlFile("components:\n  - domain: push.example.org\n    secret: s3cret\n"), env: {} });
    expect(shorthand.components).toEqual({ port: 0, hosts: [{ domain: "push.example.org", secret: "s3cret" }] });
  });

  it.each([
    ["SWITCHBOARD_COMPONENTS_PORT", "65536", "components.port", /integer from 0 to 65535/],
    ["SWITCHBOARD_COMPONENTS_HOSTS", "push.example.org", "components.hosts", /domain=secret pairs/],
    ["SWITCHBOARD_COMPONENTS_HOSTS", "push.example.org=", "components.hosts", /needs a non-empty secret/],
    ["SWITCHBOARD_COMPONENTS_HOSTS", "bad domain=x", "components.hosts", /must be a host name/],
    ["SWITCHBOARD_COMPONENTS_HOSTS", "a.example.org=x,A.example.org=y", "components.hosts", /names component a.example.org twice/],
    ["SWITCHBOARD_COMPONENTS_HOSTS", "localhost=x", "components.hosts", /the server's own domain/],
    ["SWITCHBOARD_COMPONENTS_HOSTS", "conference.localhost=x", "components.hosts", /the MUC service's domain/],
    ["SWITCHBOARD_PUSH_INCLUDE_BODY", "maybe", "push.includeBody", /must be a boolean/],
    ["SWITCHBOARD_PUSH_MAX_PER_MINUTE_PER_DEVICE", "0", "push.maxPerMinutePerDevice", /from 1 to 600/],
    ["SWITCHBOARD_PUSH_MAX_PER_MINUTE_PER_DEVICE", "601", "push.maxPerMinutePerDevice", /from 1 to 600/],
  ])("rejects %s=%s", (variable, value, key, why) => {
    const err = loadError(() => loadConfig({ env: { SWITCHBOARD_DOMAIN: "localhost", [variable]: value } }));
    expect(err.key).toBe(key);
    expect(err.message).toMatch(why);
  });

  it("refuses a YAML component without a secret, with an unknown field, or not a list", () => {
    for (const [yaml, why] of [
      ["components:\n  hosts:\n    - domain: push.example.org\n", /needs a non-empty secret/],
      ["components:\n  hosts:\n    - domain: push.example.org\n      secret: x\n      port: 1\n", /unknown: port/],
      ["components:\n  hosts: push.example.org\n", /YAML list of mappings/],
      ["components:\n  - push.example.org\n", /YAML list of mappings/],
    ] as const) {
      const err = loadError(() => loadConfig({ file: yamlFile(yaml), env: {} }));
      expect(err.key).toBe("components.hosts");
      expect(err.message).toMatch(why);
    }
  });

  it("gives push its defaults: no body in notifications, 10 per minute per registration", () => {
    expect(defaultConfig().push).toEqual({ includeBody: false, maxPerMinutePerDevice: 10 });
    expect(loadConfig({ env: { SWITCHBOARD_PUSH_INCLUDE_BODY: "yes" } }).push.includeBody).toBe(true);
  });

  it("configures federation under s2s.* (SWITCHBOARD_S2S_*): defaults, the routes map both ways, and bad values named", () => {
    expect(loadConfig({ env: {} }).s2s).toEqual({
      enabled: true, port: 5269, requireTls: true, allowDialback: true, routes: {}, maxQueueBytes: 1048576,
      idleSeconds: 600, maxStanzaBytes: 262144, blockedDomains: [], connectionsPerIp: 32,
    });
    const fromEnv = loadConfig({ env: {
      SWITCHBOARD_S2S_ROUTES: "Example.org=10.0.0.5:5269, b.test=[::1]:5270,",
      SWITCHBOARD_S2S_BLOCKED_DOMAINS: "spam.example, Evil.Example",
      SWITCHBOARD_S2S_ENABLED: "false", SWITCHBOARD_S2S_PORT: "5270", SWITCHBOARD_S2S_TRUSTED_CA_FILE: "ca.pem",
    }, cwd: "/srv/sb" }).s2s;
    expect(fromEnv).toMatchObject({ enabled: false, port: 5270, trustedCaFile: "/srv/sb/ca.pem", routes: { "example.org": "10.0.0.5:5269", "b.test": "[::1]:5270" }, blockedDomains: ["spam.example", "evil.example"] });
    const fromYaml = loadConfig({ file: yamlFile('s2s:\n  routes:\n    a.test: "127.0.0.2:5269"\n  idleSeconds: 30\n'), env: {} }).s2s;
    expect(fromYaml).toMatchObject({ routes: { "a.test": "127.0.0.2:5269" }, idleSeconds: 30 });
    for (const [env, key, why] of [
      [{ SWITCHBOARD_S2S_ROUTES: "example.org" }, "s2s.routes", /domain=host:port/],
      [{ SWITCHBOARD_S2S_ROUTES: "example.org=10.0.0.5" }, "s2s.routes", /must be host:port/],
      [{ SWITCHBOARD_S2S_ROUTES: "example.org=10.0.0.5:70000" }, "s2s.routes", /port 1 to 65535/],
      [{ SWITCHBOARD_S2S_ROUTES: "bad_domain=10.0.0.5:5269" }, "s2s.routes", /not a domain name/],
      [{ SWITCHBOARD_S2S_ROUTES: "a.test=1.2.3.4:1,A.test=1.2.3.4:2" }, "s2s.routes", /names a.test twice/],
      [{ SWITCHBOARD_S2S_BLOCKED_DOMAINS: "spam.example, not a domain" }, "s2s.blockedDomains", /host names/],
      [{ SWITCHBOARD_S2S_MAX_QUEUE_BYTES: "10" }, "s2s.maxQueueBytes", /1024 to/],
      [{ SWITCHBOARD_S2S_IDLE_SECONDS: "0" }, "s2s.idleSeconds", /1 to 86400/],
      [{ SWITCHBOARD_S2S_MAX_STANZA_BYTES: "1k" }, "s2s.maxStanzaBytes", /integer/],
      [{ SWITCHBOARD_S2S_CONNECTIONS_PER_IP: "-1" }, "s2s.connectionsPerIp", /0 to 100000/],
      [{ SWITCHBOARD_S2S_REQUIRE_TLS: "maybe" }, "s2s.requireTls", /true or false|boolean/],
      [{ SWITCHBOARD_S2S_PORT: "65536" }, "s2s.port", /0 to 65535/],
    ] as const) {
      const err = loadError(() => loadConfig({ env }));
      expect(err.key).toBe(key);
      expect(err.message).toMatch(why);
      expect(err.message).toContain(Object.keys(env)[0]);
    }
    const yamlErr = loadError(() => loadConfig({ file: yamlFile("s2s:\n  routes: [a.test]\n"), env: {} }));
    expect(yamlErr.key).toBe("s2s.routes");
    expect(yamlErr.message).toMatch(/map from domain to host:port/);
  });
});

describe("pep", () => {
  it("gives PEP its limits, overridable by SWITCHBOARD_PEP_* and by the file, and refuses a quoted number in YAML", () => {
    expect(defaultConfig().pep).toEqual({ maxItemBytes: 65_536, maxNodeNameLength: 256, maxNodesPerUser: 100, maxItemsPerNode: 256 });
    expect(loadConfig({ env: { SWITCHBOARD_PEP_MAX_ITEMS_PER_NODE: "1000" } }).pep.maxItemsPerNode).toBe(1000);
    expect(loadConfig({ file: yamlFile("pep:\n  maxItemBytes: 4096\n"), env: {} }).pep.maxItemBytes).toBe(4096);
    expect(loadError(() => loadConfig({ file: yamlFile('pep:\n  maxNodesPerUser: "5"\n'), env: {} })).key).toBe("pep.maxNodesPerUser");
    expect(loadError(() => loadConfig({ overrides: { modules: { pep: { maxItemBytes: 5 } } } as never, env: {} })).message).toMatch(/modules.pep/);
  });
});
