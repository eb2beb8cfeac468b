import * as net from "node:net";

/**
 * A fixed loopback address in front of a server that restarts on another port: tests of reconnects
 * keep the clients' address while the server behind it changes. `pointAt` sends new connections to
 * `port` and drops the ones still open to the old server (they are gone anyway).
 */
export interface TcpForwarder {
  port: number;
  pointAt(port: number): void;
  close(): Promise<void>;
}

export async function startTcpForwarder(): Promise<TcpForwarder> {
  let target = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((down) => {
    const up = net.connect(target, "127.0.0.1");
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    pointAt(port) {
      target = port;
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}
