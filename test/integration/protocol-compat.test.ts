import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JoinRequestSchema, JoinResponseSchema } from "../../gen/presence/v1/presence_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/*
 * F-V7 (reliability.md §4.5): calls the server does not know, from clients older or newer than it.
 * An unknown RPC answers `unimplemented` (Connect: HTTP 404, which Connect clients read as
 * `unimplemented`; gRPC: status 12), never `internal`. A request carrying fields this server does not know (a newer client's
 * message) is served, the unknown fields ignored, as protobuf's compatibility rules say. (The
 * WebSocket bridge's unknown frame types close with 4500: ws-protocol.test.ts.)
 */

let server: TestServer;
let auth: Record<string, string>;
beforeAll(async () => {
  server = await startTestServer();
  auth = { authorization: `Bearer ${await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" })}` };
});
afterAll(async () => {
  await server?.close();
});

/** A binary JoinRequest with an extra field 999 (varint 1) appended, as a newer client might send. */
function joinWithUnknownField(room: string): Uint8Array {
  const known = toBinary(JoinRequestSchema, create(JoinRequestSchema, { room }));
  const unknown = Uint8Array.from([0xb8, 0x3e, 0x01]); // tag (999 << 3 | varint) = 7992 → 0xb8 0x3e, value 1
  return Uint8Array.from([...known, ...unknown]);
}

describe("F-V7 protocol compatibility", () => {
  it("an unknown RPC is unimplemented: HTTP 404 for Connect, status 12 for gRPC (grpc-js), never internal", async () => {
    // Connect maps HTTP 404 to `unimplemented`; the router answers it before any handler runs.
    const connect = await fetch(`${server.baseUrl}/presence.v1.PresenceService/NoSuchMethod`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: "{}",
    });
    expect(connect.status).toBe(404);
    // A real gRPC client (HTTP/2) calling a method the server does not have.
    const client = new grpc.Client(server.baseUrl.replace("http://", ""), grpc.credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) => {
        const md = new grpc.Metadata();
        md.set("authorization", auth.authorization!);
        client.makeUnaryRequest("/presence.v1.PresenceService/NoSuchMethod", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), md, (err) => resolve(err?.code ?? 0));
      });
      expect(code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it("a request with fields this server does not know is served; the unknown fields are ignored", async () => {
    const res = await fetch(`${server.baseUrl}/presence.v1.PresenceService/Join`, {
      method: "POST",
      headers: { "content-type": "application/proto", ...auth },
      body: Buffer.from(joinWithUnknownField("/compat")),
    });
    expect(res.status).toBe(200);
    const joined = fromBinary(JoinResponseSchema, new Uint8Array(await res.arrayBuffer()));
    expect(joined.view?.users.map((u) => u.user?.userId)).toEqual(["ana"]);
    expect(joined.session?.connectionId).toMatch(/^c_/);
  });
});
