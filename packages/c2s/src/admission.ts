/**
 * Bounds on connections that have not authenticated yet: a TCP socket that never completes its
 * TLS handshake, never sends a stream header or stalls in SASL costs a file descriptor and memory
 * while doing nothing. One host opening a few thousand of them would exhaust the process's
 * descriptors and lock every user out, so each process admits at most `maxUnauthenticated` such
 * connections in all and `maxUnauthenticatedPerIp` from one address; past a cap a new connection
 * is closed at once, before any TLS or XMPP work is spent on it. A connection stops counting when
 * its stream authenticates (or it closes). Time bounds are the listeners' job (tlsHandshakeMs)
 * and the stream's (handshakeTimeoutMs).
 */
import { noopMetrics, type Logger, type Metrics } from "@switchboard/core";

export interface AdmissionLimits {
  maxUnauthenticated: number;
  maxUnauthenticatedPerIp: number;
}

export type AdmissionRefusal = "process" | "ip";

/** One connection's place in the count; release() is idempotent. */
export interface AdmissionTicket {
  /**
   * Charges the connection to its client's address (known at accept, or after a PROXY header);
   * false, and released, when that address is over its cap.
   */
  assignIp(ip: string): boolean;
  release(): void;
}

/** How often a refusal is logged at most (one line per burst, with the count). */
const LOG_INTERVAL_MS = 10_000;

export class Admission {
  readonly counters = { refusedProcess: 0, refusedIp: 0 };
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private lastLog = 0;
  private unlogged = 0;

  private readonly refusals: { process: { add(n?: number): void }; ip: { add(n?: number): void } };

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly log: Logger,
    metrics: Metrics = noopMetrics,
    private readonly now: () => number = Date.now,
  ) {
    const refused = metrics.counter("switchboard_connections_refused_total", { help: "New connections closed at accept, by the cap they met", labels: ["cap"] });
    this.refusals = { process: refused.with({ cap: "limits.maxUnauthenticated" }), ip: refused.with({ cap: "limits.maxUnauthenticatedPerIp" }) };
  }

  /** Connections counted now (for tests and metrics). */
  get unauthenticated(): number {
    return this.total;
  }

  countFor(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  /** Called at accept; undefined when the process is at its cap (the caller closes the socket). */
  admit(peer: string): AdmissionTicket | undefined {
    if (this.total >= this.limits.maxUnauthenticated) {
      this.counters.refusedProcess++;
      this.refused("process", peer);
      return undefined;
    }
    this.total++;
    let ip: string | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.total--;
      if (ip !== undefined) {
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, left);
      }
    };
    return {
      assignIp: (address) => {
        if (released || ip !== undefined) return !released;
        const count = this.perIp.get(address) ?? 0;
        if (count >= this.limits.maxUnauthenticatedPerIp) {
          this.counters.refusedIp++;
          this.refused("ip", address);
          release();
          return false;
        }
        ip = address;
        this.perIp.set(address, count + 1);
        return true;
      },
      release,
    };
  }

  private refused(cap: AdmissionRefusal, ip: string): void {
    this.refusals[cap].add();
    this.unlogged++;
    const t = this.now();
    if (t - this.lastLog < LOG_INTERVAL_MS) return;
    this.lastLog = t;
    const limit = cap === "process" ? "limits.maxUnauthenticated" : "limits.maxUnauthenticatedPerIp";
    this.log.warn(
      { limit, value: cap === "process" ? this.limits.maxUnauthenticated : this.limits.maxUnauthenticatedPerIp, ip, refused: this.unlogged, unauthenticated: this.total },
      "too many unauthenticated connections: new ones are closed at once",
    );
    this.unlogged = 0;
  }
}
