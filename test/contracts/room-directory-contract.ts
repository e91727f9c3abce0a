/**
 * RoomDirectory contract: the embedded (memory) and cluster (Redis) directories behave alike,
 * so MUC rooms are placed, taken over, listed and counted the same way in both modes.
 */
import { describe, expect, it } from "vitest";
import type { RoomDirectory } from "../../packages/core/src/index.js";

const ROOM = "lounge@conference.example.com";
const DOMAIN = "conference.example.com";

export function roomDirectoryContract(name: string, open: () => Promise<RoomDirectory> | RoomDirectory): void {
  describe(`RoomDirectory contract: ${name}`, () => {
    it("gives a room to the first claimant, keeps it against others, and hands it over only from the named dead holder", async () => {
      const d = await open();
      expect(await d.holder(ROOM)).toBeUndefined();
      expect(await d.claim(ROOM, "w1")).toBe("w1");
      expect(await d.claim(ROOM, "w2")).toBe("w1");
      expect(await d.claim(ROOM, "w2", "w3")).toBe("w1");
      expect(await d.claim(ROOM, "w2", "w1")).toBe("w2");
      await d.release(ROOM, "w1");
      expect(await d.holder(ROOM)).toBe("w2");
      await d.release(ROOM, "w2");
      expect(await d.holder(ROOM)).toBeUndefined();
    });

    it("keeps live fields, sets and removes them in one step, and drops the room with its holder and listing", async () => {
      const d = await open();
      await d.claim(ROOM, "w1");
      await d.putLive(ROOM, { room: '{"v":1}', "o:alice": "{}", "o:bob": "{}" });
      await d.putLive(ROOM, { "o:carol": "{}" }, ["o:bob"]);
      expect(await d.getLive(ROOM)).toEqual({ room: '{"v":1}', "o:alice": "{}", "o:carol": "{}" });
      await d.list(DOMAIN, ROOM, '{"name":"Lounge"}');
      await d.list(DOMAIN, `attic@${DOMAIN}`, "{}");
      expect(await d.listed(DOMAIN)).toEqual(new Map([[ROOM, '{"name":"Lounge"}'], [`attic@${DOMAIN}`, "{}"]]));
      await d.list(DOMAIN, `attic@${DOMAIN}`, undefined);
      await d.dropLive(ROOM, DOMAIN);
      expect(await d.getLive(ROOM)).toEqual({});
      expect(await d.holder(ROOM)).toBeUndefined();
      expect(await d.listed(DOMAIN)).toEqual(new Map());
    });

    it("counts the rooms a user is in, once each, and lists a service's workers", async () => {
      const d = await open();
      expect(await d.join("alice@example.com", ROOM)).toBe(1);
      expect(await d.join("alice@example.com", ROOM)).toBe(1);
      expect(await d.join("alice@example.com", `attic@${DOMAIN}`)).toBe(2);
      await d.leave("alice@example.com", ROOM);
      expect(await d.joinedBy("alice@example.com")).toEqual([`attic@${DOMAIN}`]);
      expect(await d.joinedBy("bob@example.com")).toEqual([]);
      await d.addWorker(DOMAIN, "w2");
      await d.addWorker(DOMAIN, "w1");
      await d.removeWorker(DOMAIN, "w2");
      expect(await d.workers(DOMAIN)).toEqual(["w1"]);
    });
  });
}
