import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests run in forked processes (real sockets, child servers); no automatic retries: a flaky test is a finding.
export default defineConfig({
  // The SDK packages by name, from their sources (as tsconfig.json's `paths`).
  resolve: {
    alias: {
      "@presence-platform/client": fileURLToPath(new URL("./packages/client/src/index.ts", import.meta.url)),
      "@presence-platform/react": fileURLToPath(new URL("./packages/react/src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["src/**/*.test.ts", "packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    pool: "forks",
    // Child-process tests run the built server and CLI (dist/): built once, before any file.
    globalSetup: ["test/support/build-once.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default"],
  },
});
