/**
 * XEP-0045 §7.2.14: the discussion history a room sends a new occupant, limited by what the
 * room keeps (muc#roomconfig_historylength) and by what the client asks for in `<history/>`
 * (maxchars, maxstanzas, seconds, since; all that apply are applied, §7.2.15).
 */
import { type Element, x } from "@switchboard/xml";
import { NS_DELAY } from "@switchboard/xml";

interface Entry {
  /** the groupchat message as broadcast, without a 'to' */
  stanza: Element;
  at: number;
  /** its size as §7.2.14 counts maxchars: the whole stanza's XML */
  chars: number;
}

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  since?: number;
}

export class History {
  private entries: Entry[] = [];

  constructor(private capacity: number) {}

  resize(capacity: number): void {
    this.capacity = capacity;
    if (this.entries.length > capacity) this.entries = this.entries.slice(this.entries.length - capacity);
  }

  add(stanza: Element, at = Date.now()): void {
    if (this.capacity === 0) return;
    this.entries.push({ stanza, at, chars: stanza.toString().length });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * The messages a new occupant gets, oldest first, each stamped with XEP-0203 delay from the
   * room (§7.2.14) and addressed to `to`.
   */
  replay(request: HistoryRequest, roomJid: string, to: string, now = Date.now()): Element[] {
    let picked = this.entries;
    if (request.seconds !== undefined) picked = picked.filter((e) => e.at >= now - request.seconds! * 1000);
    if (request.since !== undefined) picked = picked.filter((e) => e.at > request.since!);
    if (request.maxstanzas !== undefined) picked = request.maxstanzas === 0 ? [] : picked.slice(-request.maxstanzas);
    if (request.maxchars !== undefined) {
      let budget = request.maxchars;
      const kept: Entry[] = [];
      for (let i = picked.length - 1; i >= 0 && budget >= picked[i]!.chars; i--) {
        budget -= picked[i]!.chars;
        kept.unshift(picked[i]!);
      }
      picked = kept;
    }
    return picked.map((e) => {
      const copy = x(e.stanza.name, { ...e.stanza.attrs, to }, ...e.stanza.children);
      copy.cnode(x("delay", { xmlns: NS_DELAY, from: roomJid, stamp: new Date(e.at).toISOString() }));
      return copy;
    });
  }
}

/** Reads `<history/>` from a join's `<x xmlns='…muc'/>`; malformed attributes are ignored. */
export function readHistoryRequest(history: Element | undefined): HistoryRequest {
  if (!history) return {};
  const int = (name: string) => {
    const raw = history.attrs[name];
    if (raw === undefined || !/^\d{1,9}$/.test(raw)) return undefined;
    return Number(raw);
  };
  const sinceRaw = history.attrs.since;
  const since = sinceRaw === undefined ? undefined : Date.parse(sinceRaw);
  return { maxchars: int("maxchars"), maxstanzas: int("maxstanzas"), seconds: int("seconds"), since: Number.isNaN(since) ? undefined : since };
}
