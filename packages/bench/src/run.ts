/** One entry point for every scenario: validates the spec, refuses non-loopback targets. */
import { assertLoopback } from "./loopback.js";
import type { RunOptions } from "./pool.js";
import { runChat } from "./scenarios/chat.js";
import { runIdle } from "./scenarios/idle.js";
import { runMuc } from "./scenarios/muc.js";
import { runStorm } from "./scenarios/storm.js";
import type { ScenarioResult, ScenarioSpec, Target } from "./types.js";

export class ScenarioSpecError extends Error {
  override name = "ScenarioSpecError";
}

export function runScenario(target: Target, spec: ScenarioSpec, opts: RunOptions = {}): Promise<ScenarioResult> {
  if (target.endpoints.length === 0) throw new ScenarioSpecError("target has no endpoints");
  for (const e of target.endpoints) assertLoopback(e.host);
  validateSpec(spec);
  switch (spec.scenario) {
    case "idle":
      return runIdle(target, spec, opts);
    case "storm":
      return runStorm(target, spec, opts);
    case "chat":
      return runChat(target, spec, opts);
    case "muc":
      return runMuc(target, spec, opts);
  }
}

/** Everything is bounded by the spec, so the spec itself is bounded. */
export function validateSpec(spec: ScenarioSpec): void {
  const int = (what: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new ScenarioSpecError(`${what} must be an integer from ${min} to ${max}, got ${v}`);
  };
  const num = (what: string, v: number, min: number, max: number) => {
    if (!Number.isFinite(v) || v < min || v > max) throw new ScenarioSpecError(`${what} must be a number from ${min} to ${max}, got ${v}`);
  };
  switch (spec.scenario) {
    case "idle":
      int("connections", spec.connections, 1, 1_000_000);
      num("rampPerSecond", spec.rampPerSecond, 0.1, 1_000_000);
      num("holdSeconds", spec.holdSeconds, 0, 86_400);
      return;
    case "storm":
      int("clients", spec.clients, 1, 1_000_000);
      int("concurrency", spec.concurrency, 1, 1_000_000);
      num("timeoutSeconds", spec.timeoutSeconds, 0.1, 86_400);
      return;
    case "chat":
      int("users", spec.users, 2, 1_000_000);
      if (spec.rates.length === 0 || spec.rates.length > 100) throw new ScenarioSpecError("rates must list 1 to 100 rates");
      for (const r of spec.rates) num("rate", r, 1, 10_000_000);
      num("stepSeconds", spec.stepSeconds, 0.1, 86_400);
      return;
    case "muc":
      // a room's joins are quadratic (each is announced to everyone in it): a few thousand at most
      int("occupants", spec.occupants, 2, 5_000);
      int("senders", spec.senders, 1, spec.occupants);
      num("saturationSeconds", spec.saturationSeconds, 0, 3_600);
      if (spec.rates.length > 100) throw new ScenarioSpecError("rates must list at most 100 rates");
      if (spec.saturationSeconds === 0 && spec.rates.length === 0) throw new ScenarioSpecError("muc needs a saturation phase or at least one rate");
      for (const r of spec.rates) {
        if (r === "half") {
          if (spec.saturationSeconds === 0) throw new ScenarioSpecError('rate "half" needs a saturation phase');
        } else num("rate", r, 0.1, 1_000_000);
      }
      num("stepSeconds", spec.stepSeconds, 0.1, 3_600);
      if (spec.window !== undefined) int("window", spec.window, 1, 1_000);
      if (spec.room !== undefined && !/^[a-z0-9._-]{1,64}$/.test(spec.room)) throw new ScenarioSpecError(`room must be 1 to 64 of a-z 0-9 . _ -, got "${spec.room}"`);
      return;
    default:
      throw new ScenarioSpecError(`unknown scenario ${(spec as { scenario: string }).scenario}`);
  }
}
