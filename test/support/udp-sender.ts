import { create, toBinary } from "@bufbuild/protobuf";
import { createHmac } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { HeartbeatDatagramBodySchema, HeartbeatDatagramSchema } from "../../gen/presence/v1/udp_pb.js";
import type { Activity } from "../../gen/presence/v1/types_pb.js";

/**
 * A UDP heartbeat sender for tests, built the way udp.proto tells any client to: serialize the
 * body, HMAC-SHA256 it with the session's heartbeat key, send {body, mac}. `raw` sends any bytes.
 */
export interface UdpSender {
  /** Builds (without sending) a datagram for `sessionId` signed with `key`. */
  datagram(sessionId: string, key: Uint8Array, timestampMs: number, activity?: Activity): Uint8Array;
  send(bytes: Uint8Array): Promise<void>;
  close(): void;
}

export function createUdpSender(port: number, host = "127.0.0.1"): UdpSender {
  const socket: Socket = createSocket("udp4");
  return {
    datagram(sessionId, key, timestampMs, activity) {
      const body = toBinary(HeartbeatDatagramBodySchema, create(HeartbeatDatagramBodySchema, { sessionId, timestampMs: BigInt(timestampMs), activity }));
      const mac = new Uint8Array(createHmac("sha256", key).update(body).digest());
      return toBinary(HeartbeatDatagramSchema, create(HeartbeatDatagramSchema, { body, mac }));
    },
    send: (bytes) => new Promise((resolve, reject) => socket.send(bytes, port, host, (err) => (err ? reject(err) : resolve()))),
    close: () => socket.close(),
  };
}
