/**
 * A lean unary client for the load generator (`--raw-clients`): Join and Heartbeat over one
 * `node:http2` session, as gRPC (5-byte envelope, `te: trailers`, status from `grpc-status`) or as
 * the Connect protocol (binary body, status from the HTTP status). It skips the client libraries'
 * pipelines (interceptors, async iterables, per-call abort signals), so one generator core drives
 * more calls, for when grpc-js or connect-node would saturate before the server. Only what the
 * benchmark needs: no deadlines, no compression, no streaming.
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as http2 from "node:http2";
import { HeartbeatRequestSchema, HeartbeatResponseSchema, JoinRequestSchema, JoinResponseSchema, PresenceService } from "../../gen/presence/v1/presence_pb.js";

export interface RawUnaryClient {
  join(req: MessageInitShape<typeof JoinRequestSchema>): Promise<MessageShape<typeof JoinResponseSchema>>;
  heartbeat(req: MessageInitShape<typeof HeartbeatRequestSchema>): Promise<MessageShape<typeof HeartbeatResponseSchema>>;
  close(): void;
}

export function rawH2Client(baseUrl: string, token: string | undefined, protocol: "grpc" | "connect"): RawUnaryClient {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const base: http2.OutgoingHttpHeaders = {
    ":method": "POST",
    "content-type": protocol === "grpc" ? "application/grpc+proto" : "application/proto",
    ...(protocol === "grpc" ? { te: "trailers" } : { "connect-protocol-version": "1" }),
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
  function call<I extends DescMessage, O extends DescMessage>(method: string, inSchema: I, outSchema: O, req: MessageInitShape<I>): Promise<MessageShape<O>> {
    return new Promise((resolve, reject) => {
      const body = toBinary(inSchema, create(inSchema, req));
      const stream = session.request({ ...base, ":path": `/${PresenceService.typeName}/${method}` });
      const chunks: Buffer[] = [];
      let status = 0;
      let grpcStatus: string | undefined;
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]); // trailers-only answer
      });
      stream.on("trailers", (t) => (grpcStatus = String(t["grpc-status"])));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      stream.on("end", () => {
        const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (protocol === "grpc") {
          if (grpcStatus !== "0") return reject(new Error(`grpc-status ${grpcStatus}`));
          return resolve(fromBinary(outSchema, data.subarray(5)));
        }
        if (status !== 200) return reject(new Error(`HTTP ${status}: ${data.toString("utf8").slice(0, 200)}`));
        resolve(fromBinary(outSchema, data));
      });
      if (protocol === "grpc") {
        const head = Buffer.allocUnsafe(5);
        head[0] = 0;
        head.writeUInt32BE(body.length, 1);
        stream.end(Buffer.concat([head, body]));
      } else stream.end(body);
    });
  }
  return {
    join: (req) => call("Join", JoinRequestSchema, JoinResponseSchema, req),
    heartbeat: (req) => call("Heartbeat", HeartbeatRequestSchema, HeartbeatResponseSchema, req),
    close: () => session.close(),
  };
}
