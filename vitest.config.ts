import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The servers under test use self-signed certificates generated per data dir.
    env: { NODE_TLS_REJECT_UNAUTHORIZED: "0" },
    reporters: ["default"],
  },
});
