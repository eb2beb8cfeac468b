import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { RoomViewSchema, UserPresenceSchema } from "../../../gen/presence/v1/types_pb.js";
import { JoinResponseSchema } from "../../../gen/presence/v1/presence_pb.js";
import type { Member, RoomView, UserPresence } from "../../core/presence-event.js";
import { userPresenceToPb, viewToPb } from "../wire.js";

/**
 * Binary ServerFrames that carry a room's members (snapshot pages `watch.snapshot`, and the view
 * of a Join's answer), with each user's `UserPresence`
 * encoded once while it is unchanged: the bytes a watcher receives are the same as
 * `toBinary(ServerFrame)` would give (protobuf lets a repeated field's elements be written after
 * the message's other fields), but a room's snapshot is re-encoded on every change while sockets
 * keep arriving (a join storm: a new snapshot for each event-loop turn in which a socket starts
 * watching, and each Join answered with the members so far, up to PRESENCE_LARGE_ROOM_THRESHOLD),
 * and encoding its members was most of the server's work.
 *
 * The cache is keyed by the member object of a user with one connection in the room (the store's
 * and the broadcaster's views replace a member object when it changes, never mutate it; the bytes
 * are a function of the member and its user) and held weakly: an entry lives as long as the member
 * is in some view. It is used only for views above `minUsers` users (the broadcaster passes the
 * snapshot page size, PRESENCE_SNAPSHOT_PAGE_SIZE): small rooms re-encode cheaply, and their idle
 * members keep no extra bytes (idle memory per connection is a product goal).
 */
const encodedUsers = new WeakMap<Member, Uint8Array>();

function userBytes(u: UserPresence, cache: boolean): Uint8Array {
  const only = u.connections.length === 1 ? u.connections[0]! : undefined;
  // Cached only where the bytes depend on the member alone: its user is the one listed.
  const key = cache && only !== undefined && only.identity.kind === "user" && only.identity.user === u.user && only.activity === u.activity ? only : undefined;
  let b = key ? encodedUsers.get(key) : undefined;
  if (b === undefined) {
    b = toBinary(UserPresenceSchema, create(UserPresenceSchema, userPresenceToPb(u)));
    if (key) encodedUsers.set(key, b);
  }
  return b;
}

/** Bytes of a varint. */
const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/**
 * Writes protobuf by hand into one buffer of the exact size: the frame is a few nested
 * length-delimited fields around the view's head and its users' cached bytes, whose sizes are all
 * known first (protobuf-es's BinaryWriter copies each chunk again in `finish`).
 */
class Out {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  byte(b: number): this {
    this.buf[this.pos++] = b;
    return this;
  }
  varint(n: number): this {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** A length-delimited field `tag` (one byte, or two for fields ≥ 16) of `len` bytes, its content written next. */
  field(tag: readonly number[], len: number): this {
    for (const t of tag) this.byte(t);
    return this.varint(len);
  }
}

// Tags (field number << 3 | wire type 2), as bytes.
const SERVER_FRAME_WATCH = [0xa2, 0x01]; // ServerFrame.watch = 20
const SERVER_FRAME_JOIN = [0x52]; // ServerFrame.join = 10
const WATCH_SNAPSHOT = [0x0a]; // WatchPresenceResponse.snapshot = 1
const SNAPSHOT_VIEW = [0x0a]; // SnapshotPage.view = 1
const JOIN_VIEW = [0x22]; // JoinResponse.view = 4
const VIEW_USERS = 0x2a; // RoomView.users = 5
const sizeOf = (tag: readonly number[], len: number) => tag.length + varintSize(len) + len;

/** A RoomView's encoding in parts: the head as protobuf-es encodes it, then each user's bytes. */
function viewParts(view: RoomView, cache: boolean): { head: Uint8Array; users: Uint8Array[]; size: number } {
  const head = toBinary(RoomViewSchema, create(RoomViewSchema, viewToPb({ ...view, users: [] })));
  const users = view.users.map((u) => userBytes(u, cache));
  let size = head.length;
  for (const b of users) size += 1 + varintSize(b.length) + b.length;
  return { head, users, size };
}

function writeView(o: Out, v: { head: Uint8Array; users: Uint8Array[] }): void {
  o.bytes(v.head);
  for (const b of v.users) o.byte(VIEW_USERS).varint(b.length).bytes(b);
}

/** ServerFrame{watch: {snapshot: {view: page, first, last}}}, request_id 0, as binary protobuf. */
export function snapshotPageFrame(page: RoomView, first: boolean, last: boolean, minUsers: number, roomUsers: number): Uint8Array {
  const v = viewParts(page, roomUsers > minUsers);
  const pageSize = sizeOf(SNAPSHOT_VIEW, v.size) + (first ? 2 : 0) + (last ? 2 : 0);
  const watchSize = sizeOf(WATCH_SNAPSHOT, pageSize);
  const o = new Out(sizeOf(SERVER_FRAME_WATCH, watchSize));
  o.field(SERVER_FRAME_WATCH, watchSize).field(WATCH_SNAPSHOT, pageSize).field(SNAPSHOT_VIEW, v.size);
  writeView(o, v);
  if (first) o.byte(0x10).byte(1); // SnapshotPage.first = 2
  if (last) o.byte(0x18).byte(1); // SnapshotPage.last = 3
  return o.buf;
}

/** ServerFrame{request_id, join: {...answer, view}} as binary protobuf (`answer` without its view). */
export function joinAnswerFrame(requestId: number, answer: MessageInitShape<typeof JoinResponseSchema>, view: RoomView, minUsers: number): Uint8Array {
  const rest = toBinary(JoinResponseSchema, create(JoinResponseSchema, answer));
  const v = viewParts(view, view.users.length > minUsers);
  const joinSize = rest.length + sizeOf(JOIN_VIEW, v.size);
  const o = new Out((requestId !== 0 ? 1 + varintSize(requestId) : 0) + sizeOf(SERVER_FRAME_JOIN, joinSize));
  if (requestId !== 0) o.byte(0x08).varint(requestId); // ServerFrame.request_id = 1
  o.field(SERVER_FRAME_JOIN, joinSize).bytes(rest).field(JOIN_VIEW, v.size);
  writeView(o, v);
  return o.buf;
}
