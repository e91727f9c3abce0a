/**
 * Feature modules: one XEP (or RFC section) per module. A module declares its name, the spec it
 * implements, its options with defaults, and registers hooks/IQ handlers/disco features through
 * its context, which records them so unloading removes exactly what it added.
 */
import type { CoreEvents } from "./events.js";
import type { HookHandler, HookPosition } from "./hooks.js";
import type { Host } from "./host.js";
import type { IqHandler, IqSpec } from "./iq.js";
import type { Logger } from "./logger.js";
import { resolveOptions, type OptionsOf, type OptionsSchema } from "./options.js";
import type { StreamElementHandler, StreamElementSpec } from "./stream-handlers.js";
import type { SessionStateKey } from "./session-state.js";
import type { IncomingFilter, OutgoingFilter } from "./session-filters.js";

export interface ModuleContext<Options> {
  readonly host: Host;
  readonly options: Options;
  readonly log: Logger;
  /** Hooks an event; `position` names the band (default feature) and an offset within it. */
  on<K extends keyof CoreEvents>(event: K, handler: HookHandler<CoreEvents[K]>, position?: HookPosition): void;
  iq(spec: IqSpec, handler: IqHandler): void;
  /** disco#info feature on the server domain */
  hostFeature(ns: string): void;
  /** disco#info feature answered for accounts (bare JIDs) */
  accountFeature(ns: string): void;
  /** stream feature offered before or after authentication */
  streamFeature(phase: "preAuth" | "postAuth", feature: () => import("@switchboard/xml").Element): void;
  /** IQ accepted before authentication (XEP-0077) */
  preAuthIq(xmlns: string, handler: import("./stream-features.js").PreAuthIqHandler): void;
  /** a stream-level element (not a stanza) in the given stream states: XEP-0198 <enable/>, XEP-0352 <active/> */
  streamElement(spec: StreamElementSpec, handler: StreamElementHandler): void;
  /** a feature enabled inside a XEP-0386 Bind 2 request (XEP-0280 carbons) */
  bindInline(xmlns: string, handler: import("./stream-features.js").BindInlineHandler): void;
  /** declares a piece of per-session state (serializable, so the session can move between nodes) */
  sessionState<T>(key: SessionStateKey<T>): SessionStateKey<T>;
  /** a filter on every stanza written to a client (session-filters.ts) */
  outgoing(filter: OutgoingFilter, position?: HookPosition): void;
  /** a filter on every stanza a client sends, before the router */
  incoming(filter: IncomingFilter, position?: HookPosition): void;
  /** runs on unload (timers, caches) */
  onUnload(fn: () => void): void;
}

export interface ModuleDefinition<Options = Record<string, never>> {
  name: string;
  /** e.g. "XEP-0199" or "RFC 6121 §2" */
  spec: string;
  /**
   * The options an operator may set, with type, default, bounds and description (options.ts):
   * the server offers each as `modules.<name>.<option>` (and its SWITCHBOARD_* variable) and
   * lists it in the generated docs. Modules whose options a schema cannot express give
   * `defaults` and `validate` instead.
   */
  options?: OptionsSchema;
  defaults: Options;
  /** validates user options merged over defaults; throw an Error naming the option on bad values */
  validate?(options: Options): void;
  setup(ctx: ModuleContext<Options>): void | Promise<void>;
}

export interface LoadedModule {
  name: string;
  spec: string;
  unload(): void;
}

/** A module whose options are all declared in a schema: `ctx.options` is typed from it. */
export interface SchemaModuleDefinition<S extends OptionsSchema> {
  name: string;
  spec: string;
  options: S;
  validate?(options: OptionsOf<S>): void;
  setup(ctx: ModuleContext<OptionsOf<S>>): void | Promise<void>;
}

export function defineModule<S extends OptionsSchema>(def: SchemaModuleDefinition<S>): ModuleDefinition<OptionsOf<S>>;
export function defineModule<Options>(def: ModuleDefinition<Options>): ModuleDefinition<Options>;
export function defineModule(def: ModuleDefinition<unknown> | SchemaModuleDefinition<OptionsSchema>): ModuleDefinition<unknown> {
  if ("defaults" in def) return def;
  return { ...def, defaults: resolveOptions(def.name, def.options) };
}

export async function loadModule<Options>(
  host: Host,
  def: ModuleDefinition<Options>,
  options?: Partial<Options>,
): Promise<LoadedModule> {
  const merged = (def.options ? resolveOptions(def.name, def.options, options as Record<string, unknown>) : { ...def.defaults, ...(options ?? {}) }) as Options;
  def.validate?.(merged);
  const undo: Array<() => void> = [];
  const ctx: ModuleContext<Options> = {
    host,
    options: merged,
    log: host.log.child({ module: def.name }),
    on: (event, handler, position) => undo.push(host.hooks.on(event, handler, position)),
    iq: (spec, handler) => undo.push(host.iq.handle(spec, handler)),
    hostFeature: (ns) => undo.push(host.disco.addHostFeature(ns)),
    accountFeature: (ns) => undo.push(host.disco.addAccountFeature(ns)),
    streamFeature: (phase, feature) => undo.push(host.streamFeatures.add(phase, feature)),
    preAuthIq: (xmlns, handler) => undo.push(host.streamFeatures.handlePreAuthIq(xmlns, handler)),
    streamElement: (spec, handler) => undo.push(host.streamHandlers.handle(spec, handler)),
    bindInline: (xmlns, handler) => undo.push(host.streamFeatures.addBindInline(xmlns, handler)),
    sessionState: (key) => {
      undo.push(host.sessions.stateKeys.declare(key));
      return key;
    },
    outgoing: (filter, position) => undo.push(host.sessions.filters.outgoing(filter, position)),
    incoming: (filter, position) => undo.push(host.sessions.filters.incoming(filter, position)),
    onUnload: (fn) => undo.push(fn),
  };
  await def.setup(ctx);
  return {
    name: def.name,
    spec: def.spec,
    unload: () => {
      for (const fn of undo.reverse()) fn();
    },
  };
}
