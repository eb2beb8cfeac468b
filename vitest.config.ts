import { defineConfig } from "vitest/config";

// Tests run in forked processes (real sockets, child servers); no automatic retries: a flaky test is a finding.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "client/**/*.test.ts", "test/**/*.test.ts"],
    pool: "forks",
    // Child-process tests run the built server and CLI (dist/): built once, before any file.
    globalSetup: ["test/support/build-once.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default"],
  },
});
