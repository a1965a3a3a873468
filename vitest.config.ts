import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // argon2 and SIP clients are CPU-heavy; two workers match the two cores of CI.
    maxWorkers: 2,
  },
});
