import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from "vitest/config";
import { testWorkers } from "./test/support/test-workers.js";

/**
 * Test files run in two groups (docs/development.md "Parallel and serial tests"):
 *
 * 1. `parallel`: every file not listed below, PRESENCE_TEST_WORKERS files at a time (default: the
 *    machine's cores; test/support/test-workers.ts). Such a file must not assume it is alone on the
 *    machine: free ports (port 0, `freePort()`), its own temp dirs and servers, no fixed ports, no
 *    writes to the repository, no bound on the machine's timing tighter than load allows.
 * 2. `serial`: the files of SERIAL, one at a time, after the parallel group has finished.
 *
 * Vitest's default on a 2-core machine is one file at a time (cores - 1), which left the suite
 * waiting most of its wall time.
 */
const SERIAL = [
  // `npm start` rebuilds dist/ in place; every other file that runs the server as a child process
  // (`node dist/main.js`) or packs dist/ (the consumer test) would see it half written. It also
  // measures start-to-ready times.
  "test/integration/built-server.test.ts",
  // A stalled stream must be reset within 3 s of PRESENCE_WATCHER_STALL_MS (300 ms) while a churn
  // fills its queue, and the retained heap is bounded: it failed beside other files when measured.
  "test/integration/slow-watcher.test.ts",
];

const workers = testWorkers();

/** What both groups share (the root's globalSetup is not repeated: it runs once for the run). */
const common = {
  // The SDK packages by name, from their sources (as tsconfig.json's `paths`).
  resolve: {
    alias: {
      "@presence-platform/client": fileURLToPath(new URL("./packages/client/src/index.ts", import.meta.url)),
      "@presence-platform/react": fileURLToPath(new URL("./packages/react/src/index.ts", import.meta.url)),
    },
  },
} satisfies Partial<TestProjectInlineConfiguration>;
const commonTest = {
  // Tests run in forked processes (real sockets, child servers); no automatic retries: a flaky test is a finding.
  pool: "forks" as const,
  // PRESENCE_TEST_TIMES=<file>: one line of wall and CPU time per test file (scripts/test-times.ts).
  setupFiles: ["test/support/file-times.ts"],
  testTimeout: 30_000,
  hookTimeout: 30_000,
};
const include = ["src/**/*.test.ts", "packages/*/src/**/*.test.ts", "test/**/*.test.ts"];

export default defineConfig({
  ...common,
  test: {
    ...commonTest,
    // Child-process tests run the built server and CLI (dist/): built once, before any file.
    globalSetup: ["test/support/build-once.ts"],
    reporters: ["default"],
    projects: [
      { ...common, test: { ...commonTest, name: "parallel", include, exclude: [...configDefaults.exclude, ...SERIAL], maxWorkers: workers, sequence: { groupOrder: 0 } } },
      { ...common, test: { ...commonTest, name: "serial", include: SERIAL, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
