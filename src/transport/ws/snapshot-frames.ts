import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
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

/** Writes the fields of a RoomView: the head as protobuf-es encodes it, then each user's bytes. */
function writeView(w: BinaryWriter, view: RoomView, cache: boolean): void {
  w.raw(toBinary(RoomViewSchema, create(RoomViewSchema, viewToPb({ ...view, users: [] }))));
  for (const u of view.users) w.tag(5, WireType.LengthDelimited).bytes(userBytes(u, cache)); // RoomView.users
}

/** ServerFrame{watch: {snapshot: {view: page, first, last}}}, request_id 0, as binary protobuf. */
export function snapshotPageFrame(page: RoomView, first: boolean, last: boolean, minUsers: number, roomUsers: number): Uint8Array {
  const w = new BinaryWriter();
  w.tag(20, WireType.LengthDelimited).fork(); // ServerFrame.watch
  w.tag(1, WireType.LengthDelimited).fork(); // WatchPresenceResponse.snapshot
  w.tag(1, WireType.LengthDelimited).fork(); // SnapshotPage.view
  writeView(w, page, roomUsers > minUsers);
  w.join();
  if (first) w.tag(2, WireType.Varint).bool(true);
  if (last) w.tag(3, WireType.Varint).bool(true);
  w.join();
  w.join();
  return w.finish();
}

/** ServerFrame{request_id, join: {...answer, view}} as binary protobuf (`answer` without its view). */
export function joinAnswerFrame(requestId: number, answer: MessageInitShape<typeof JoinResponseSchema>, view: RoomView, minUsers: number): Uint8Array {
  const w = new BinaryWriter();
  if (requestId !== 0) w.tag(1, WireType.Varint).uint32(requestId); // ServerFrame.request_id
  w.tag(10, WireType.LengthDelimited).fork(); // ServerFrame.join
  w.raw(toBinary(JoinResponseSchema, create(JoinResponseSchema, answer)));
  w.tag(4, WireType.LengthDelimited).fork(); // JoinResponse.view
  writeView(w, view, view.users.length > minUsers);
  w.join();
  w.join();
  return w.finish();
}
