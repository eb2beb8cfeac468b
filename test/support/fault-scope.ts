import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { presenceTruth, recordRooms, type ClusterRecorder } from "./cluster-recorder.js";
import { startNode, type NodeProcess } from "./node-process.js";
import { startRedis, type RedisInstance, type RedisOptions } from "./redis-harness.js";
import { startTcpForwarder, type TcpForwarder } from "./tcp-forwarder.js";
import { waitFor } from "./watch-recorder.js";

/**
 * Everything one fault test starts, owned by one scope and stopped when the test finishes (by pid,
 * streams first). Unlike the module-level kits (node-fault-kit.ts, redis-fault-kit.ts), scopes do
 * not share state, so the tests of one file may run concurrently (`describe.concurrent`): fault
 * tests mostly wait (TTLs, reapers), and the 2-core CI machine runs one file at a time. Pass the
 * test's own context (`it("…", async (ctx) => { const s = faultScope(ctx); … })`): with concurrent
 * tests only the context's `onTestFinished` knows which test it belongs to.
 */
export interface FaultScope {
  redis(opts?: RedisOptions): Promise<RedisInstance>;
  /** A server node (env: PRESENCE_* options, and e.g. NODE_OPTIONS for an injector). */
  node(env: Record<string, string>): Promise<NodeProcess>;
  nodes(n: number, env: Record<string, string>): Promise<NodeProcess[]>;
  forwarder(target: number): Promise<TcpForwarder>;
  /** A PresenceService client (gRPC, own HTTP/2 connection) of `rpcUrl`, as `token`'s caller. */
  client(rpcUrl: string, token?: string): Client<typeof PresenceService>;
  /** A recorder watching `rooms` on every node (closed by the scope), after its first snapshots. */
  record(nodes: readonly NodeProcess[], rooms: readonly string[]): Promise<ClusterRecorder>;
  /** GetPresence of `rooms` from `node`, comparable with recorder views. */
  truth(node: NodeProcess, rooms: readonly string[]): ReturnType<typeof presenceTruth>;
  /** Runs `fn` at close (last registered first). */
  defer(fn: () => void | Promise<void>): void;
  close(): Promise<void>;
}

export function faultScope(ctx: { onTestFinished(fn: () => void | Promise<void>): void }): FaultScope {
  const closers: (() => void | Promise<void>)[] = [];
  const defer = (fn: () => void | Promise<void>) => void closers.push(fn);
  const node = async (env: Record<string, string>) => {
    const n = await startNode(env);
    defer(() => n.stop());
    return n;
  };
  const scope: FaultScope = {
    async redis(opts) {
      const r = await startRedis(opts);
      defer(() => r.stop());
      return r;
    },
    node,
    nodes: (n, env) => Promise.all(Array.from({ length: n }, () => node(env))),
    async forwarder(target) {
      const f = await startTcpForwarder(target);
      defer(() => f.close());
      return f;
    },
    client(rpcUrl, token) {
      const session = new Http2SessionManager(rpcUrl);
      defer(() => session.abort());
      const interceptors = token === undefined ? [] : [bearer(token)];
      return createClient(PresenceService, createGrpcTransport({ baseUrl: rpcUrl, sessionManager: session, interceptors }));
    },
    async record(nodes, rooms) {
      const rec = recordRooms(nodes, rooms);
      defer(() => rec.close());
      await waitFor(() => rec.views().every((v) => v !== null), 30_000, "first snapshot of every recorder watcher").catch((e: Error) => {
        const errors = rec.watchers.filter((w) => w.errors.length > 0).map((w) => `${w.room} @ ${w.rpcUrl}: ${w.errors.map((x) => x.message).join("; ")}`);
        const logs = nodes.map((n) => `--- node ${n.rpcUrl} (pid ${n.pid}):\n${n.logs().slice(-2_000)}`);
        throw new Error(`${e.message}\n${errors.join("\n")}\n${logs.join("\n")}`);
      });
      return rec;
    },
    truth: (n, rooms) => presenceTruth(n.rpcUrl, rooms),
    defer,
    async close() {
      for (const c of closers.splice(0).reverse()) await c();
    },
  };
  ctx.onTestFinished(() => scope.close());
  return scope;
}

const bearer =
  (token: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
