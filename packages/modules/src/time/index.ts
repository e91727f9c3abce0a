/**
 * XEP-0202 Entity Time for the server domain: `<tzo/>` is the server's offset from UTC in the
 * XEP-0082 TZD form (±hh:mm, read at each request so a daylight-saving change shows at once)
 * and `<utc/>` the current time as an XEP-0082 DateTime in UTC. We keep the milliseconds
 * (XEP-0082 §3.2 allows fractional seconds): clients use this query to estimate their clock
 * offset, and whole seconds would throw away most of the precision a round trip gives.
 *
 * Queries to a full JID are the client's to answer; the router delivers them (§3: "the
 * entity" is whoever the IQ is addressed to).
 */
import { x } from "@switchboard/xml";
import { defineModule } from "@switchboard/core";

export const NS_TIME = "urn:xmpp:time";

export const timeModule = defineModule({
  name: "time",
  spec: "XEP-0202",
  defaults: {},
  setup(ctx) {
    ctx.hostFeature(NS_TIME);
    ctx.iq({ type: "get", xmlns: NS_TIME, name: "time", targets: ["host"] }, () => {
      const now = new Date();
      return x("time", { xmlns: NS_TIME }, x("tzo", null, timezoneOffset(now)), x("utc", null, now.toISOString()));
    });
  },
});

/** XEP-0082 §3.1 TZD for the local zone at `at`: "+02:00", "-05:30", "+00:00" for UTC. */
export function timezoneOffset(at: Date): string {
  // getTimezoneOffset is UTC minus local time, so east of Greenwich it is negative.
  const minutes = -at.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
