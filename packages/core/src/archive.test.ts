import { describe, expect, it } from "vitest";
import { archiveContract } from "../../../test/contracts/archive-contract.js";
import { ArchiveIds, MemoryArchive, messageIdOf } from "./archive.js";

archiveContract("memory", (limits) => new MemoryArchive(limits));

describe("ArchiveIds", () => {
  it("makes increasing ids within one millisecond and past 1000 of them", () => {
    const ids = new ArchiveIds("abc");
    const seqs = Array.from({ length: 2500 }, () => ids.next(1_700_000_000_000).seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    expect(ids.next(1_700_000_000_000).id.endsWith("abc")).toBe(true);
  });
});

describe("messageIdOf", () => {
  it("prefers the XEP-0359 origin-id and falls back to the stanza id", () => {
    expect(messageIdOf("<message id='s1'><origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>")).toBe("o1");
    expect(messageIdOf('<message to="a@b" id="s2"><body>x</body></message>')).toBe("s2");
    expect(messageIdOf("<message><body>x</body></message>")).toBeUndefined();
  });
});
