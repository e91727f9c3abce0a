/**
 * Requests every node answers (StanzaBus.serveRequests / requestAll; the admin commands): plain
 * NATS request/reply on `<prefix>.request.<topic>` with no queue group, so every subscriber
 * answers, and the asker collects the replies of a request-many. Bodies and answers are JSON; a
 * handler that throws answers `{ error }`. Requests are rare (an operator's command), so
 * nothing here waits in the reconnect buffer.
 */
import { ErrorCode, RequestStrategy, type Msg, type NatsConnection } from "nats";
import { BusUnavailableError } from "./errors.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const encode = (value: unknown) => encoder.encode(JSON.stringify(value ?? null));

/** Answers one request message with what `handler` makes of its JSON body. */
export function answerRequest(msg: Msg, handler: (body: unknown) => Promise<unknown>): void {
  if (!msg.reply) return;
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(msg.data));
  } catch {
    msg.respond(encode({ error: "the request is not JSON" }));
    return;
  }
  handler(body).then(
    (answer) => msg.respond(encode(answer)),
    (err: unknown) => msg.respond(encode({ error: err instanceof Error ? err.message : String(err) })),
  );
}

/** Sends one request and collects the answers until `enough` or `timeoutMs`; nobody serving: []. */
export async function collectAnswers(nc: NatsConnection, subject: string, body: unknown, opts: { timeoutMs: number; enough?: (answers: unknown[]) => boolean }): Promise<unknown[]> {
  const answers: unknown[] = [];
  let replies: AsyncIterator<Msg> | undefined;
  try {
    const iterable = await nc.requestMany(subject, encode(body), { strategy: RequestStrategy.Timer, maxWait: opts.timeoutMs });
    replies = iterable[Symbol.asyncIterator]();
    for (;;) {
      const step = await replies.next();
      if (step.done) break;
      try {
        answers.push(JSON.parse(decoder.decode(step.value.data)));
      } catch {
        answers.push({ error: "an answer was not JSON" });
      }
      if (opts.enough?.(answers)) break;
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== ErrorCode.NoResponders && code !== ErrorCode.Timeout) throw new BusUnavailableError("rejected", "request failed", { cause: err });
  } finally {
    void replies?.return?.().catch(() => {});
  }
  return answers;
}
