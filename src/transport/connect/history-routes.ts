import type { ConnectRouter } from "@connectrpc/connect";
import { HistoryService as HistoryServiceDesc } from "../../../gen/presence/v1/history_pb.js";
import type { HistoryService } from "../../service/history-service.js";
import { activityRecordToPb, kindFromPb, roomAtToPb, roomStatisticsToPb } from "../history-wire.js";
import { kCaller } from "./context.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * HistoryService over Connect, gRPC and gRPC-Web: translation only (validation and the audit right
 * are in the history service). Errors are mapped once, by `toConnectError`.
 */
export function historyRoutes(history: HistoryService) {
  return (router: ConnectRouter) =>
    router.service(HistoryServiceDesc, {
      listActivity: (req, ctx) =>
        mapErrors(async () => {
          const r = await history.listActivity(ctx.values.get(kCaller), {
            room: req.room,
            userId: req.userId,
            sinceMs: Number(req.sinceMs),
            untilMs: Number(req.untilMs),
            kinds: req.kinds.map(kindFromPb),
            pageToken: req.pageToken,
            pageSize: req.pageSize,
            newestFirst: req.newestFirst,
          });
          return { records: r.records.map(activityRecordToPb), nextPageToken: r.nextPageToken, sinceMs: BigInt(r.sinceMs), untilMs: BigInt(r.untilMs) };
        }),
      getRoomAt: (req, ctx) => mapErrors(async () => roomAtToPb(await history.roomAt(ctx.values.get(kCaller), { room: req.room, atMs: Number(req.atMs) }))),
      getRoomStatistics: (req, ctx) =>
        mapErrors(async () =>
          roomStatisticsToPb(await history.roomStatistics(ctx.values.get(kCaller), { room: req.room, sinceMs: Number(req.sinceMs), untilMs: Number(req.untilMs) })),
        ),
    });
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toConnectError(e);
  }
}
