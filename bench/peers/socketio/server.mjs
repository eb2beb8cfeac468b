/**
 * OUR Socket.IO presence baseline for the benchmark (bench/run.ts). This is not an official
 * Socket.IO product: it is presence written the way Socket.IO's documentation suggests (rooms,
 * `socket.data`, `fetchSockets()`, connect/disconnect handlers, the Redis adapter for several
 * nodes), so that the benchmark has the "what a Node team would write" reference.
 *
 *   node bench/peers/socketio/server.mjs --port 3001 [--host 127.0.0.1] [--redis redis://127.0.0.1:6380]
 *
 * Events (client → server): `join` {room, user} with an ack that answers the room's members
 * (`fetchSockets()`: "who is here"), `leave` {room}, `typing` {room, ...}, `cursor` {room, ...}.
 * Server → clients of the room (sender excluded): `joined` user, `left` {id}, `typing`, `cursor`.
 * GET /healthz answers 200 once listening.
 */
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};

const httpServer = createServer((req, res) => {
  if (req.url === "/healthz") return void res.writeHead(200).end("ok");
  res.writeHead(404).end();
});
const io = new Server(httpServer, { transports: ["websocket", "polling"], serveClient: false });

const redisUrl = arg("redis", "");
if (redisUrl) {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

io.on("connection", (socket) => {
  socket.on("join", async ({ room, user }, ack) => {
    socket.data.user = user;
    await socket.join(room);
    socket.to(room).emit("joined", user);
    if (typeof ack === "function") {
      const sockets = await io.in(room).fetchSockets();
      ack(sockets.map((s) => s.data.user));
    }
  });

  socket.on("leave", async ({ room }) => {
    if (!socket.rooms.has(room)) return;
    await socket.leave(room);
    socket.to(room).emit("left", { id: socket.data.user?.id });
  });

  socket.on("typing", (msg) => {
    if (socket.rooms.has(msg?.room)) socket.to(msg.room).emit("typing", msg);
  });

  socket.on("cursor", (msg) => {
    if (socket.rooms.has(msg?.room)) socket.volatile.to(msg.room).emit("cursor", msg);
  });

  socket.on("disconnecting", () => {
    for (const room of socket.rooms) {
      if (room !== socket.id) socket.to(room).emit("left", { id: socket.data.user?.id });
    }
  });
});

httpServer.listen(Number(arg("port", "3001")), arg("host", "127.0.0.1"), () => {
  console.log(`socket.io presence baseline listening on ${arg("host", "127.0.0.1")}:${arg("port", "3001")}${redisUrl ? " (redis adapter)" : ""}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.once(sig, () => io.close(() => process.exit(0)));
