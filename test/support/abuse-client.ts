/**
 * An abusive client in its own process (so that its work does not slow the test's own clients):
 * opens WATCHES WatchPresence streams, each held open, and JOINS joins on fresh room names, from
 * LOCAL_ADDRESS, as fast as the server answers; prints one JSON line `{watches, joins}` with the
 * outcome counts (`ok` or `<code>/<reason>/<field>`), then keeps the streams open until killed.
 *
 *   node --import tsx test/support/abuse-client.ts <rpc url> <local address> <watches> <joins>
 */
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";

const [url, localAddress, watches, joins] = process.argv.slice(2) as [string, string, string, string];
const sessionManager = new Http2SessionManager(url, {}, { localAddress } as never);
const client = createClient(PresenceService, createGrpcTransport({ baseUrl: url, sessionManager }));

const outcome = (e: unknown) => {
  const ce = ConnectError.from(e);
  const info = ce.findDetails(ErrorInfoSchema)[0];
  return `${ce.code}/${info?.reason ?? ""}/${info?.metadata.field ?? ""}`;
};
const tally = (xs: string[]) => xs.reduce<Record<string, number>>((t, x) => ((t[x] = (t[x] ?? 0) + 1), t), {});

const opened = await Promise.all(
  Array.from({ length: Number(watches) }, async (_, i) => {
    try {
      const it = client.watchPresence({ room: `/flood/w${i % 50}` })[Symbol.asyncIterator]();
      await it.next(); // the first message: the watch is open; then held
      return "ok";
    } catch (e) {
      return outcome(e);
    }
  }),
);
const joined: string[] = [];
for (let i = 0; i < Number(joins); i++) {
  try {
    await client.join({ room: `/fresh/${i}` });
    joined.push("ok");
  } catch (e) {
    joined.push(outcome(e));
  }
}
process.stdout.write(`${JSON.stringify({ watches: tally(opened), joins: tally(joined), joinResults: joined })}\n`);
setInterval(() => {}, 60_000); // hold the streams until killed
