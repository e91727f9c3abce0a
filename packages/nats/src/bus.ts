/**
 * NatsStanzaBus: the cluster StanzaBus over NATS core (ARCHITECTURE.md "Routing a stanza" step 3).
 *
 * - One subject per destination node, `${prefix}.node.${nodeId}`; payload = stanza XML,
 *   metadata in headers (see codec.ts).
 * - Order (RFC 6120 §10.1): publish hands the message to the client synchronously, before its
 *   first await, so calls from one sender keep their order on the single connection; NATS keeps
 *   per-connection order per subject, and handlers run synchronously from the client's parser.
 * - Outages: stanzas accepted while NATS is unreachable wait in a bounded ReconnectBuffer and are
 *   replayed in order on reconnect; beyond the bound publish rejects with BusUnavailableError.
 * - Delivery is at most once (NATS core): bytes already written to a socket that dies are lost,
 *   and nobody reports a subject without subscribers. Dead destination nodes are detected by the
 *   session registry's liveness keys, not per message; publishChecked() exists for the rare
 *   control message worth a round trip.
 */
import { connect as natsConnect, ErrorCode, Events, RequestStrategy, type Msg, type NatsConnection, type Subscription } from "nats";
import type { BusEnvelope, ControlMessage, StanzaBus, TapEvent } from "@switchboard/core";
import {
  controlSubject,
  decodeControl,
  decodeEnvelope,
  decodeTap,
  encodeControl,
  encodeEnvelope,
  encodeTap,
  nodeSubject,
  requestSubject,
  tapSubject,
  validatePrefix,
} from "./codec.js";
import { BusUnavailableError, NodeUnreachableError } from "./errors.js";
import {
  clientOptions,
  DEFAULT_RECONNECT_BUFFER_BYTES,
  withTimeout,
  type BusLog,
  type BusStatus,
  type BusStatusListener,
  type NatsBusConnectOptions,
  type NatsStanzaBusOptions,
} from "./options.js";
import { ReconnectBuffer, type BufferedPublish } from "./reconnect-buffer.js";
import { answerRequest, collectAnswers } from "./requests.js";

type EnvelopeHandler = (envelope: BusEnvelope) => void;
interface LocalSubscription {
  subject: string;
  /** decodes and dispatches one message; throws on a malformed one */
  deliver: (msg: Msg) => void;
  /** deliver answers requests itself (serveRequests): no empty acknowledgement */
  answers?: boolean;
  nats?: Subscription;
}

/** how long a confirmed notice waits for the next acknowledgement once the first arrived */
const CONFIRM_STALL_MS = 200;

const silentLog: BusLog = { warn() {}, info() {} };

export class NatsStanzaBus implements StanzaBus {
  private nc?: NatsConnection;
  private readonly prefix: string;
  private readonly buffer: ReconnectBuffer;
  private readonly log: BusLog;
  private readonly subscriptions = new Set<LocalSubscription>();
  private readonly listeners = new Set<BusStatusListener>();
  private linkUp = false;
  private isClosed = false;
  private closing?: Promise<void>;
  private readonly controlHandlers = new Set<(message: ControlMessage) => void>();
  private controlSubscription?: () => void;

  /**
   * Waits until NATS answers (retrying forever, `waitOnFirstConnect`), then resolves. Use it when
   * the process cannot do anything useful without the bus; use start() to serve /healthz and
   * report not-ready while NATS is still down.
   */
  static async connect(opts: NatsBusConnectOptions): Promise<NatsStanzaBus> {
    return new NatsStanzaBus(await natsConnect(clientOptions(opts)), opts);
  }

  /**
   * Returns at once; connects in the background. Until NATS answers, status().connected is false,
   * publish buffers up to the bound and subscriptions are made once connected. An edge can start,
   * answer /healthz and turn ready when NATS comes (ARCHITECTURE.md "Failure is normal").
   */
  static start(opts: NatsBusConnectOptions): NatsStanzaBus {
    return new NatsStanzaBus(natsConnect(clientOptions(opts)), opts);
  }

  /** Takes ownership of the connection (or of the pending one): close() closes it. */
  constructor(connection: NatsConnection | Promise<NatsConnection>, opts: NatsStanzaBusOptions = {}) {
    this.prefix = validatePrefix(opts.subjectPrefix ?? "sb");
    this.buffer = new ReconnectBuffer(opts.reconnectBufferBytes ?? DEFAULT_RECONNECT_BUFFER_BYTES);
    this.log = opts.log ?? silentLog;
    if (connection instanceof Promise) {
      connection.then(
        (nc) => this.attach(nc),
        (err: unknown) => {
          this.log.warn({ err }, "NATS bus: connection failed");
          void this.close();
        },
      );
    } else {
      this.attach(connection);
    }
  }

  status(): BusStatus {
    const closed = this.isClosed;
    const connected = !closed && this.canWriteDirect();
    return { connected, reconnecting: !closed && !connected, pendingBytes: this.buffer.pendingBytes, closed };
  }

  /** Called on every connection state change (disconnect, reconnect, close). Returns a remover. */
  onStatus(listener: BusStatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Fire-and-forget: resolves once the client has the message (or the reconnect buffer holds it).
   * Rejects with BusUnavailableError when closed or the buffer is full, InvalidBusEnvelopeError
   * for a bad node id or header. It does not learn whether the node exists.
   */
  async publish(nodeId: string, envelope: BusEnvelope): Promise<void> {
    // Everything below is synchronous: no await may sit between two publishes (ordering).
    const subject = nodeSubject(this.prefix, nodeId);
    const nc = this.nc;
    if (this.isClosed || nc?.isClosed()) throw new BusUnavailableError("closed", "the stanza bus is closed");
    this.send({ subject, ...encodeEnvelope(envelope) });
  }

  /**
   * Sends a cluster-wide notice on `${prefix}.control` (every node, the sender included). Same
   * buffering, ordering and errors as publish().
   */
  async publishControl(message: ControlMessage): Promise<void> {
    if (this.isClosed || this.nc?.isClosed()) throw new BusUnavailableError("closed", "the stanza bus is closed");
    const data = encodeControl(message);
    this.send({ subject: controlSubject(this.prefix), data, size: data.length });
  }

  /**
   * Sends a notice and waits for `nodes` acknowledgements (NATS request with many replies): each
   * bus answers once, after all its control handlers ran, so `nodes` replies mean that many nodes
   * applied the notice. Gives up early, resolving with fewer, at timeoutMs or when the replies
   * stall for CONFIRM_STALL_MS after the first one: a node that just died still counts as live
   * until its alive key expires, and must not hold every caller for the whole timeout. With no
   * live connection, or stanzas still buffered that a request would overtake, it falls back to
   * publishControl and resolves 0.
   */
  async publishControlConfirmed(message: ControlMessage, nodes: number, timeoutMs: number): Promise<number> {
    const nc = this.nc;
    if (!nc || !this.canWriteDirect() || this.buffer.length > 0) {
      await this.publishControl(message);
      return 0;
    }
    const wanted = Math.max(1, nodes);
    let confirmed = 0;
    let replies: AsyncIterator<Msg> | undefined;
    try {
      const iterable = await nc.requestMany(controlSubject(this.prefix), encodeControl(message), {
        strategy: RequestStrategy.Count,
        maxMessages: wanted,
        maxWait: timeoutMs,
      });
      replies = iterable[Symbol.asyncIterator]();
      const deadline = Date.now() + timeoutMs;
      while (confirmed < wanted) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const next = replies.next();
        let settled = false;
        next.then(
          () => (settled = true),
          () => (settled = true), // may settle after we stopped waiting for it
        );
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<"stalled">((resolve) => {
          timer = setTimeout(() => resolve("stalled"), confirmed === 0 ? left : Math.min(left, CONFIRM_STALL_MS));
        });
        let step = await Promise.race([next, stalled]).finally(() => clearTimeout(timer));
        if (step === "stalled") {
          // After the event loop was blocked, expired timers run before pending I/O: give
          // acknowledgements already waiting on the socket one turn to arrive before giving up.
          await new Promise((resolve) => setImmediate(resolve));
          if (!settled) break;
          step = await next;
        }
        if (step.done) break;
        confirmed++;
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== ErrorCode.NoResponders && code !== ErrorCode.Timeout) {
        throw new BusUnavailableError("rejected", "confirmed control notice failed", { cause: err });
      }
    } finally {
      void replies?.return?.().catch(() => {});
    }
    return confirmed;
  }

  /**
   * Every handler of this bus shares one NATS subscription, so a confirmed notice gets exactly
   * one acknowledgement per node, sent after all of them ran.
   */
  subscribeControl(handler: (message: ControlMessage) => void): () => void {
    this.controlHandlers.add(handler);
    this.controlSubscription ??= this.addSubscription(controlSubject(this.prefix), (msg) => {
      const message = decodeControl(msg.data);
      for (const h of [...this.controlHandlers]) {
        try {
          h(message);
        } catch (err) {
          this.log.warn({ err, type: message.type }, "NATS bus control handler threw");
        }
      }
    });
    return () => {
      this.controlHandlers.delete(handler);
      if (this.controlHandlers.size === 0 && this.controlSubscription) {
        this.controlSubscription();
        this.controlSubscription = undefined;
      }
    };
  }

  /**
   * The traffic tap is best effort: an event is published only while connected (it never waits
   * in the reconnect buffer, where it would crowd out stanzas), and costs one small message when
   * someone watches — NATS drops it at the server when nobody does.
   */
  async publishTap(event: TapEvent): Promise<void> {
    const nc = this.nc;
    if (!nc || !this.canWriteDirect() || this.buffer.length > 0) return;
    try {
      nc.publish(tapSubject(this.prefix, event.user), encodeTap(event));
    } catch (err) {
      this.log.warn({ err }, "NATS refused a tap event; dropped");
    }
  }

  subscribeTap(user: string, handler: (event: TapEvent) => void): () => void {
    return this.addSubscription(tapSubject(this.prefix, user), (msg) => handler(decodeTap(msg.data)));
  }

  /** Every node answers (requests.ts); the handler's subscription replies itself. */
  serveRequests(topic: string, handler: (body: unknown) => Promise<unknown>): () => void {
    return this.addSubscription(requestSubject(this.prefix, topic), (msg) => answerRequest(msg, handler), true);
  }

  async requestAll(topic: string, body: unknown, opts: { timeoutMs: number; enough?: (answers: unknown[]) => boolean }): Promise<unknown[]> {
    const nc = this.nc;
    if (this.isClosed || !nc || nc.isClosed()) throw new BusUnavailableError("closed", "the stanza bus is closed");
    if (!this.canWriteDirect()) throw new BusUnavailableError("disconnected", "NATS is not connected");
    return collectAnswers(nc, requestSubject(this.prefix, topic), body, opts);
  }

  /**
   * Runs after a reconnect, once buffered messages are replayed: notices published meanwhile by
   * other nodes were not buffered for us (NATS core keeps nothing), so caches must be dropped.
   */
  onReconnect(handler: () => void): () => void {
    return this.onStatus((_status, event) => {
      if (event === "reconnect") handler();
    });
  }

  /** Hands a message to the client now, or to the reconnect buffer; synchronous for ordering. */
  private send(item: BufferedPublish): void {
    const nc = this.nc;
    if (nc && this.canWriteDirect() && this.buffer.length === 0) {
      try {
        nc.publish(item.subject, item.data, { headers: item.headers });
      } catch (cause) {
        throw new BusUnavailableError("rejected", `NATS refused the message for ${item.subject}`, { cause });
      }
      return;
    }
    if (!this.buffer.offer(item)) {
      throw new BusUnavailableError(
        "buffer-full",
        `NATS is unreachable and the reconnect buffer (${this.buffer.maxBytes} bytes) is full`,
      );
    }
  }

  /**
   * Request/reply publish for control messages: resolves when a subscriber of the node has run
   * its handler, rejects with NodeUnreachableError when nobody subscribes (NATS "no responders")
   * or no answer comes within timeoutMs. Needs a live connection: never buffered.
   */
  async publishChecked(nodeId: string, envelope: BusEnvelope, timeoutMs = 2_000): Promise<void> {
    const subject = nodeSubject(this.prefix, nodeId);
    const nc = this.nc;
    if (this.isClosed || nc?.isClosed()) throw new BusUnavailableError("closed", "the stanza bus is closed");
    // With stanzas still buffered a direct request would overtake them.
    if (!nc || !this.canWriteDirect() || this.buffer.length > 0) {
      throw new BusUnavailableError("disconnected", "NATS is not connected");
    }
    const encoded = encodeEnvelope(envelope);
    try {
      await nc.request(subject, encoded.data, { headers: encoded.headers, timeout: timeoutMs });
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === ErrorCode.NoResponders) throw new NodeUnreachableError(nodeId, "no-subscriber", { cause });
      if (code === ErrorCode.Timeout) throw new NodeUnreachableError(nodeId, "timeout", { cause });
      throw new BusUnavailableError("rejected", `checked publish to node ${nodeId} failed`, { cause });
    }
  }

  subscribe(nodeId: string, handler: EnvelopeHandler): () => void {
    return this.addSubscription(nodeSubject(this.prefix, nodeId), (msg) => handler(decodeEnvelope(msg.data, msg.headers)));
  }

  private addSubscription(subject: string, deliver: (msg: Msg) => void, answers = false): () => void {
    const local: LocalSubscription = { subject, deliver, answers };
    if (this.isClosed) throw new BusUnavailableError("closed", "the stanza bus is closed");
    this.subscriptions.add(local);
    if (this.nc) this.natsSubscribe(this.nc, local);
    return () => {
      this.subscriptions.delete(local);
      local.nats?.unsubscribe();
      local.nats = undefined;
    };
  }

  /**
   * Resolves after a round trip to the server, so every subscription made before it is in force
   * (SUB is asynchronous). Call it after subscribe() before reporting the node ready.
   */
  async flush(): Promise<void> {
    const nc = this.nc;
    if (this.isClosed || !nc || nc.isClosed()) throw new BusUnavailableError("closed", "the stanza bus is closed");
    if (!this.canWriteDirect()) throw new BusUnavailableError("disconnected", "NATS is not connected");
    try {
      await nc.flush();
    } catch (cause) {
      throw new BusUnavailableError("disconnected", "NATS flush failed", { cause });
    }
  }

  /** Drains subscriptions and closes the connection; idempotent. Buffered stanzas are dropped (logged). */
  close(): Promise<void> {
    this.isClosed = true;
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const dropped = this.buffer.clear();
    if (dropped > 0) this.log.warn({ dropped }, "NATS bus closed with stanzas still waiting for NATS; dropped");
    this.subscriptions.clear();
    this.controlHandlers.clear();
    this.controlSubscription = undefined;
    const nc = this.nc;
    if (!nc || nc.isClosed()) return this.emit("closed");
    try {
      // drain() needs a server round trip; when disconnected it would wait for the reconnect.
      if (this.canWriteDirect()) await withTimeout(nc.drain(), 5_000);
    } catch (err) {
      this.log.warn({ err }, "NATS bus: drain failed, closing");
    }
    if (!nc.isClosed()) await nc.close();
    this.emit("closed");
  }

  private attach(nc: NatsConnection): void {
    if (this.isClosed) {
      void nc.close();
      return;
    }
    this.nc = nc;
    this.linkUp = true;
    for (const local of this.subscriptions) this.natsSubscribe(nc, local);
    void this.watch(nc);
    this.replayBuffered();
    this.emit("connect");
  }

  private natsSubscribe(nc: NatsConnection, local: LocalSubscription): void {
    // Callback mode: the handler runs synchronously from the parser, in arrival order.
    local.nats = nc.subscribe(local.subject, {
      callback: (err, msg) => {
        if (err) {
          this.log.warn({ err, subject: local.subject }, "NATS bus subscription error");
          return;
        }
        this.dispatch(local, msg);
      },
    });
  }

  private dispatch(local: LocalSubscription, msg: Msg): void {
    try {
      local.deliver(msg);
    } catch (err) {
      this.log.warn({ err, subject: local.subject }, "NATS bus message malformed or its handler threw");
    }
    // publishChecked waits for this acknowledgement; plain publishes carry no reply subject.
    if (msg.reply && !local.answers) msg.respond();
  }

  private async watch(nc: NatsConnection): Promise<void> {
    try {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          this.linkUp = false;
          this.log.warn({ server: s.data }, "NATS bus disconnected; buffering stanzas while reconnecting");
          this.emit("disconnect");
        } else if (s.type === Events.Reconnect) {
          this.linkUp = true;
          this.log.info({ server: s.data, pendingBytes: this.buffer.pendingBytes }, "NATS bus reconnected");
          this.replayBuffered();
          this.emit("reconnect");
        } else if (s.type === Events.LDM) {
          this.log.info({ server: s.data }, "NATS server entering lame duck mode");
        } else if (s.type === Events.Error) {
          this.log.warn({ data: s.data }, "NATS async error");
        }
      }
    } catch (err) {
      this.log.warn({ err }, "NATS bus status stream failed");
    }
    const err = await nc.closed();
    this.linkUp = false;
    if (!this.isClosed) {
      this.log.warn({ err }, "NATS connection closed unexpectedly; the bus is closed");
      void this.close();
    }
  }

  /** Replays buffered stanzas in order; stops if the link drops again mid-way. */
  private replayBuffered(): void {
    const nc = this.nc;
    if (!nc) return;
    for (let item = this.buffer.peek(); item; item = this.buffer.peek()) {
      if (!this.canWriteDirect()) return;
      try {
        nc.publish(item.subject, item.data, { headers: item.headers });
      } catch (err) {
        this.log.warn({ err, subject: item.subject }, "NATS refused a buffered stanza; dropped");
      }
      this.buffer.shift();
    }
  }

  /**
   * True while a server connection is up. The status events arrive a few ticks late, so the
   * client's own flag is consulted too: nats.js 2.x silently discards what it is handed while
   * disconnected (COMPAT: `protocol.connected` is internal to nats.js 2.x; absent → events only).
   */
  private canWriteDirect(): boolean {
    if (!this.linkUp || !this.nc || this.nc.isClosed()) return false;
    const internal = (this.nc as unknown as { protocol?: { connected?: unknown } }).protocol;
    return typeof internal?.connected === "boolean" ? internal.connected : true;
  }

  private emit(event: string): void {
    const status = this.status();
    for (const listener of this.listeners) {
      try {
        listener(status, event);
      } catch (err) {
        this.log.warn({ err }, "NATS bus status listener threw");
      }
    }
  }
}
