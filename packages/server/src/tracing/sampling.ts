/**
 * Which stanzas are traced (docs/observability.md "Traces"): ParentBased(TraceIdRatioBased(
 * tracing.sampleRatio)) by default; the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
 * win when set (the SDK's own names and defaults). jaeger_remote and xray are not built in:
 * they fall back to the default with a warning rather than to the SDK's "always on", which at a
 * server's stanza rate would trace everything.
 *
 * The root decision is the sampler's own, taken before anything is made: a new trace's id is
 * drawn so that its TraceIdRatioBased value (the XOR of its four 32-bit words) is drawn first,
 * and only when that is under the sampler's bound are the other words drawn and the id written
 * out. An unsampled stanza costs one random number; a sampled one gets an id that the SDK's
 * sampler then samples, so a node configured with plain `traceidratio` agrees on it.
 */
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, RandomIdGenerator, TraceIdRatioBasedSampler, type IdGenerator, type Sampler } from "@opentelemetry/sdk-trace-base";

export interface SamplingChoice {
  sampler: Sampler;
  /** TraceIdRatioBased's upper bound for a new trace: 0 never, 2^32 always */
  rootBound: number;
  /** for the start-up log line: `parentbased_traceidratio 0.01` */
  description: string;
}

const ALWAYS = 0x100000000;

/** TraceIdRatioBasedSampler's bound for a ratio (the same arithmetic, so both decide alike). */
export function ratioBound(ratio: number): number {
  if (!(ratio > 0)) return 0;
  return ratio >= 1 ? ALWAYS : Math.floor(ratio * 0xffffffff);
}

/** The sampler from OTEL_TRACES_SAMPLER (and _ARG) when set, else the default at `sampleRatio`. */
export function samplingFromEnv(env: NodeJS.ProcessEnv, sampleRatio: number, warn: (message: string) => void): SamplingChoice {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  const fallback = (): SamplingChoice => parentBasedRatio(sampleRatio, `parentbased_traceidratio ${sampleRatio} (tracing.sampleRatio)`);
  if (!name) return fallback();
  switch (name) {
    case "always_on":
      return { sampler: new AlwaysOnSampler(), rootBound: ALWAYS, description: name };
    case "always_off":
      return { sampler: new AlwaysOffSampler(), rootBound: 0, description: name };
    case "parentbased_always_on":
      return { sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }), rootBound: ALWAYS, description: name };
    case "parentbased_always_off":
      return { sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }), rootBound: 0, description: name };
    case "traceidratio": {
      const ratio = samplerArg(env, warn);
      return { sampler: new TraceIdRatioBasedSampler(ratio), rootBound: ratioBound(ratio), description: `${name} ${ratio}` };
    }
    case "parentbased_traceidratio": {
      const ratio = samplerArg(env, warn);
      return parentBasedRatio(ratio, `${name} ${ratio}`);
    }
    default:
      warn(`OTEL_TRACES_SAMPLER=${name} is not supported here (always_on, always_off, traceidratio and their parentbased_ forms are); using tracing.sampleRatio`);
      return fallback();
  }
}

function parentBasedRatio(ratio: number, description: string): SamplingChoice {
  return { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }), rootBound: ratioBound(ratio), description };
}

/** OTEL_TRACES_SAMPLER_ARG: a probability in [0, 1]; unset or out of range is 1, as the SDK has it. */
function samplerArg(env: NodeJS.ProcessEnv, warn: (message: string) => void): number {
  const text = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (!text) return 1;
  const ratio = Number(text);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  warn(`OTEL_TRACES_SAMPLER_ARG=${text} is not a probability from 0 to 1; using 1`);
  return 1;
}

const random32 = (): number => (Math.random() * ALWAYS) >>> 0;
const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

/**
 * Takes the root decision (see the file comment) and hands the sampled trace's id to the SDK as
 * the next trace id it generates; span ids and any other trace id are random as usual.
 */
export class RootSampling implements IdGenerator {
  private pending?: string;
  private readonly random = new RandomIdGenerator();

  constructor(private readonly bound: number) {}

  /** true when a new trace is to be sampled; the next generateTraceId() is then its id */
  sample(): boolean {
    if (this.bound === 0) return false;
    const value = random32();
    if (value >= this.bound) return false;
    const a = random32();
    const b = random32();
    const c = random32();
    this.pending = hex8(a) + hex8(b) + hex8(c) + hex8((value ^ a ^ b ^ c) >>> 0);
    return true;
  }

  generateTraceId(): string {
    const id = this.pending;
    if (id === undefined) return this.random.generateTraceId();
    this.pending = undefined;
    return id;
  }

  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}
