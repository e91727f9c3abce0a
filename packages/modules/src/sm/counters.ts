/**
 * XEP-0198 numbers: 'h' counts handled stanzas modulo 2^32 (§4: "the value of 'h' MUST be reset
 * to zero after it reaches 2^32 - 1"). Internally counts are unbounded (JavaScript numbers are
 * exact to 2^53), and only the wire carries them modulo 2^32.
 */

export const NS_SM = "urn:xmpp:sm:3";
const WRAP = 2 ** 32;

/** What goes in an 'h' attribute. */
export function toWire(count: number): string {
  return String(count % WRAP);
}

/** A non-negative integer below 2^32, or undefined (then: stream error bad-format, §6). */
export function parseH(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,10}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n < WRAP ? n : undefined;
}

/**
 * The unbounded count a wire 'h' stands for, given the most the peer can have handled (`sent`):
 * the largest value ≤ sent that is ≡ h (mod 2^32). Below `floor` (what it acknowledged before)
 * means the peer claims more than was sent, modulo the wrap: undefined.
 */
export function fromWire(h: number, sent: number, floor: number): number | undefined {
  const back = (((sent - h) % WRAP) + WRAP) % WRAP;
  const value = sent - back;
  return value < floor ? undefined : value;
}
