import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, expect, test } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { HistoryService } from "../../gen/presence/v1/history_pb.js";
import { row } from "../support/history-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * The embedded default (PGlite in a worker thread of the server, `npm start` with no setup): the server is
 * ready and serving before the embedded database has started (its start is off the ready path;
 * history reads answer HISTORY_UNAVAILABLE meanwhile and rows wait in the queue), then rows
 * recorded before and after are all readable, and close() shuts the database down.
 */
let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

test("PGlite starts in the background; rows queued before it is ready are written once it is", async () => {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const started = Date.now();
  server = await startTestServer({ PRESENCE_HISTORY: "embedded", PRESENCE_HISTORY_FLUSH_MS: "20" });
  const readyMs = Date.now() - started;
  const history = server.app.history;
  expect(history.mode).toBe("embedded");
  expect(history.store()).toBeUndefined(); // still starting: the server did not wait for it
  const admin = await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" });
  const client = createClient(HistoryService, createGrpcTransport({ baseUrl: server.baseUrl }));
  const early = await client.listActivity({}, { headers: { authorization: `Bearer ${admin}` } }).catch((e: unknown) => ConnectError.from(e));
  expect(early).toBeInstanceOf(ConnectError);
  expect([(early as ConnectError).code, (early as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason]).toEqual([Code.Unavailable, "HISTORY_UNAVAILABLE"]);

  const now = Date.now();
  history.writer.record(row({ key: "before-ready", timeMs: now, kind: "status", userId: "ana", reason: "online" }));
  await history.ready;
  const dbMs = Date.now() - started;
  loop.disable();
  history.writer.record(row({ key: "after-ready", timeMs: now + 1, kind: "status", userId: "ana", reason: "away" }));
  await history.writer.flush();
  const r = await client.listActivity({ userId: "ana" }, { headers: { authorization: `Bearer ${admin}` } });
  expect(r.records.map((x) => x.key)).toEqual(["before-ready", "after-ready"]);
  // PGlite runs in a worker thread: its start (seconds of CPU) does not stall this event loop.
  console.log(`server ready in ${readyMs} ms; embedded history ready after ${dbMs} ms; event-loop delay meanwhile p99 ${Math.round(loop.percentile(99) / 1e6)} ms, max ${Math.round(loop.max / 1e6)} ms`);
}, 60_000);
