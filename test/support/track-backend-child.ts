/**
 * A backend process for the kill -9 test: opens one Track stream to PRESENCE_URL with the service
 * token TRACK_TOKEN, tracks TRACK_PRESENCES presences across TRACK_ROOMS rooms (prefix TRACK_ROOM),
 * prints `ready <tracker id>` once every track is answered, then holds the stream open until killed.
 */
import { trackClient } from "./track-client.js";

const url = process.env.PRESENCE_URL!;
const n = Number(process.env.TRACK_PRESENCES ?? 1000);
const rooms = Number(process.env.TRACK_ROOMS ?? 10);
const prefix = process.env.TRACK_ROOM ?? "kill9";
const stream = trackClient(url, process.env.TRACK_TOKEN!);
const { opened } = await stream.open();
await Promise.all(
  Array.from({ length: n }, (_, i) => stream.send({ case: "track", value: { key: `k${i}`, room: `${prefix}/${i % rooms}`, user: { userId: `u${i}` } } })),
);
process.stdout.write(`ready ${opened.trackerId}\n`);
const err = await stream.ended;
process.stdout.write(`stream ended: ${err?.message ?? "OK"}\n`);
