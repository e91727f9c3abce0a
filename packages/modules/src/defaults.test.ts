import { describe, expect, it } from "vitest";
import { defaultModules } from "./defaults.js";

const settings = (over: Partial<Parameters<typeof defaultModules>[0]> = {}) => ({
  offlinePerUser: 100,
  registration: { enabled: false, perIpPerHour: 5 },
  ...over,
});
const optionsOf = (name: string, list: ReturnType<typeof defaultModules>) => list.find(([def]) => def.name === name)?.[1];

describe("defaultModules", () => {
  it("loads entity time, last activity and private XML storage", () => {
    const names = defaultModules(settings()).map(([def]) => def.name);
    expect(names).toEqual(expect.arrayContaining(["time", "last", "private"]));
    expect(new Set(names).size).toBe(names.length);
  });

  it("always loads registration, allowing new accounts only when registration is enabled", () => {
    expect(optionsOf("register", defaultModules(settings()))).toEqual({ allowRegistration: false, perIpPerHour: 5 });
    const open = defaultModules(settings({ registration: { enabled: true, perIpPerHour: 9 } }));
    expect(optionsOf("register", open)).toEqual({ allowRegistration: true, perIpPerHour: 9 });
  });

  it("passes the configured contact addresses to disco, and none when the setting is absent", () => {
    const contact = { abuse: ["mailto:abuse@example.org"] };
    expect(optionsOf("disco", defaultModules(settings({ contact })))).toEqual({ contact });
    expect(optionsOf("disco", defaultModules(settings()))).toEqual({ contact: {} });
  });
});
