/**
 * Reference servers of the gRPC benchmark (not ours): the same two RPCs our server answers in the
 * unary phase (PresenceService.Join and Heartbeat), served by a bare framework with no service
 * behind it, so that "our CPU per call ÷ the framework's" is measured in the same run.
 *
 *   node --import tsx bench/grpc/bare-server.ts grpc-js        # @grpc/grpc-js Server
 *   node --import tsx bench/grpc/bare-server.ts connect-node   # connect-node on node:http2 (gRPC, gRPC-Web, Connect)
 *
 * "The same work" on the wire: each call's request is decoded with protobuf-es (the codec our
 * server uses), and the answer is a message of the shape ours returns (Join: a session, a lease
 * and a one-member view; Heartbeat: a lease), built and encoded per call. No token check, no
 * store, no interceptors. Listens on 127.0.0.1, a free port, and prints `port <n>` on stdout.
 */
import { create, fromBinary, toBinary, type DescMethod } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as http2 from "node:http2";
import { Activity } from "../../gen/presence/v1/types_pb.js";
import { HeartbeatResponseSchema, JoinResponseSchema, PresenceService, type JoinRequest } from "../../gen/presence/v1/presence_pb.js";

export type BareKind = "grpc-js" | "connect-node";

let n = 0;
const lease = () => ({ ttlMs: 60_000n, heartbeatIntervalMs: 30_000n, expiresAtMs: BigInt(Date.now() + 60_000) });

/** A Join answer shaped like ours: new session, lease, the room with its one member. */
function joinAnswer(req: JoinRequest) {
  const id = `conn${(n++).toString(36).padStart(12, "0")}`;
  return create(JoinResponseSchema, {
    session: { sessionId: `s${id}xxxxxxxxxxxxxx`, resumeSecret: `r${id}yyyyyyyyyyyyyy`, connectionId: id },
    lease: lease(),
    view: {
      room: req.room,
      epoch: "e0000000001",
      version: 1n,
      counts: { users: 1, connections: 1, anonymous: 0 },
      users: [{ user: { userId: "bench-0", name: "Bench 0" }, activity: Activity.ACTIVE, connections: [{ connectionId: id, activity: Activity.ACTIVE, joinedAtMs: BigInt(Date.now()), metadata: req.metadata }] }],
    },
  });
}

const heartbeatAnswer = () => create(HeartbeatResponseSchema, { lease: lease() });

const method = (name: string) => PresenceService.methods.find((m) => m.name === name) as DescMethod;

async function startGrpcJs(): Promise<number> {
  const server = new grpc.Server({ "grpc.enable_channelz": 0 });
  const def = (m: DescMethod): grpc.MethodDefinition<object, object> => ({
    path: `/${PresenceService.typeName}/${m.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (x) => Buffer.from(toBinary(m.input, x as never)),
    requestDeserialize: (b: Buffer) => fromBinary(m.input, b),
    responseSerialize: (x) => Buffer.from(toBinary(m.output, x as never)),
    responseDeserialize: (b: Buffer) => fromBinary(m.output, b),
  });
  server.addService({ join: def(method("Join")), heartbeat: def(method("Heartbeat")) }, {
    join: (call: grpc.ServerUnaryCall<JoinRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, joinAnswer(call.request)),
    heartbeat: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, heartbeatAnswer()),
  });
  return new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
}

async function startConnectNode(): Promise<number> {
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(PresenceService, {
        join: (req: JoinRequest) => joinAnswer(req),
        heartbeat: () => heartbeatAnswer(),
      } as never),
  });
  const server = http2.createServer(handler);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

const kind = process.argv[2] as BareKind;
if (kind !== "grpc-js" && kind !== "connect-node") {
  console.error("usage: bare-server.ts grpc-js|connect-node");
  process.exit(2);
}
const port = await (kind === "grpc-js" ? startGrpcJs() : startConnectNode());
console.log(`port ${port}`);
process.on("SIGTERM", () => process.exit(0));
