import { describe, expect, it } from "vitest";
import { parseJid } from "@switchboard/xml";
import { resumptionContract } from "../../../test/contracts/resumption-contract.js";
import { MemoryResumptionStore, jidOfResumptionId, newResumptionId } from "./resumption.js";

resumptionContract("memory", () => new MemoryResumptionStore());

describe("resumption ids", () => {
  it("name their session and nothing else reads as one", () => {
    const id = newResumptionId(parseJid("alice@example.com/phone"));
    expect(jidOfResumptionId(id)?.full).toBe("alice@example.com/phone");
    expect(newResumptionId(parseJid("alice@example.com/phone"))).not.toBe(id);
    for (const bad of ["", "x", ".abc", "bm90IGEgamlk.x", `${Buffer.from("alice@example.com").toString("base64url")}.x`]) {
      expect(jidOfResumptionId(bad), bad).toBeUndefined();
    }
  });
});
