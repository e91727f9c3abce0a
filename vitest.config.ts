import { defineConfig } from "vitest/config";

// The servers under test use self-signed certificates generated per data dir.
const env = { NODE_TLS_REJECT_UNAUTHORIZED: "0" };

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["packages/*/src/**/*.test.ts", "test/infra/**/*.test.ts"], env },
      },
      {
        // the protocol suite against the embedded all-in-one node
        extends: true,
        test: { name: "protocol", include: ["test/protocol/**/*.test.ts"], env },
      },
      {
        // the same suite against two edges over real Redis and NATS
        extends: true,
        test: { name: "protocol-cluster", include: ["test/protocol/**/*.test.ts"], env: { ...env, SB_TEST_MODE: "cluster" } },
      },
      {
        // smoke runs of the load generator and the benchmark launchers (the full runs are `pnpm bench`)
        extends: true,
        test: { name: "bench", include: ["test/bench/**/*.test.ts"], env },
      },
      {
        // fault tests on real processes (kill -9, Redis/NATS restarts)
        extends: true,
        test: { name: "cluster", include: ["test/cluster/**/*.test.ts"], env, testTimeout: 60_000 },
      },
    ],
  },
});
