// Test helpers for the parser tests (not exported from the package).
import type { Element } from "./element.js";
import type { StreamError } from "./errors.js";
import { StreamParser, type ParserLimits } from "./parser.js";

export const HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";

export interface Recorded {
  parser: StreamParser;
  events: string[];
  stanzas: Element[];
  errors: StreamError[];
  headers: Array<{ name: string; attrs: Record<string, string> }>;
}

export function record(limits?: Partial<ParserLimits>): Recorded {
  const parser = new StreamParser(limits);
  const rec: Recorded = { parser, events: [], stanzas: [], errors: [], headers: [] };
  parser.on("streamStart", (attrs, name) => {
    rec.events.push("start");
    rec.headers.push({ name, attrs });
  });
  parser.on("stanza", (el) => {
    rec.events.push(`stanza:${el.name}`);
    rec.stanzas.push(el);
  });
  parser.on("streamEnd", () => rec.events.push("end"));
  parser.on("error", (err) => {
    rec.events.push(`error:${err.condition}`);
    rec.errors.push(err);
  });
  return rec;
}

/** Feed the whole input, then return what was recorded. */
export function parse(input: string | Buffer, limits?: Partial<ParserLimits>): Recorded {
  const rec = record(limits);
  rec.parser.write(input);
  return rec;
}

/** The single error a complete stream (header + body) produced. */
export function streamError(body: string, limits?: Partial<ParserLimits>): StreamError {
  const rec = parse(HEADER + body, limits);
  if (rec.errors.length !== 1) throw new Error(`expected one error, got events ${rec.events.join(",")}`);
  return rec.errors[0]!;
}
