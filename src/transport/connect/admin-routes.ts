import type { ConnectRouter } from "@connectrpc/connect";
import { AdminService as AdminServiceDesc } from "../../../gen/presence/v1/admin_pb.js";
import type { AdminService } from "../../service/admin-service.js";
import { kCaller } from "./context.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * AdminService over Connect, gRPC and gRPC-Web: translation only (the admin check and validation
 * are in the service). Errors are mapped once, by `toConnectError`.
 */
export function adminRoutes(admin: AdminService) {
  return (router: ConnectRouter) =>
    router.service(AdminServiceDesc, {
      listRooms: (req, ctx) =>
        mapErrors(async () => {
          const r = await admin.listRooms(ctx.values.get(kCaller), { limit: req.limit });
          return { rooms: r.rooms, totalRooms: r.totalRooms };
        }),
      listNodes: (_req, ctx) =>
        mapErrors(async () => {
          const r = await admin.listNodes(ctx.values.get(kCaller));
          return {
            nodeId: r.nodeId,
            deadAfterMs: BigInt(r.deadAfterMs),
            nodes: r.nodes.map((n) => ({ ...n, lastSeenMs: BigInt(n.lastSeenMs), lastSeenAgeMs: BigInt(n.lastSeenAgeMs) })),
          };
        }),
      kickSession: (req, ctx) => mapErrors(() => admin.kickSession(ctx.values.get(kCaller), { sessionId: req.sessionId })),
      purgeNode: (req, ctx) => mapErrors(() => admin.purgeNode(ctx.values.get(kCaller), { nodeId: req.nodeId, force: req.force })),
    });
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toConnectError(e);
  }
}
