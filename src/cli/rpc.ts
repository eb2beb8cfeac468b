import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdminService } from "../../gen/presence/v1/admin_pb.js";
import { HistoryService } from "../../gen/presence/v1/history_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";

/**
 * The CLI's clients: the service's own API (AdminService and PresenceService) over the Connect
 * protocol on HTTP/1.1, which any deployment that serves browsers accepts (and proxies pass), with
 * the token as `Authorization: Bearer`. Unary calls time out after CALL_TIMEOUT_MS.
 */
export const CALL_TIMEOUT_MS = 30_000;

export interface Clients {
  admin: Client<typeof AdminService>;
  presence: Client<typeof PresenceService>;
  history: Client<typeof HistoryService>;
}

export function createClients(baseUrl: string, token: string | undefined): Clients {
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    interceptors: [
      (next) => (req) => {
        if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return { admin: createClient(AdminService, transport), presence: createClient(PresenceService, transport), history: createClient(HistoryService, transport) };
}

/** `permission_denied PERMISSION_DENIED: <message>`: the code, the ErrorInfo reason, the message. */
export function describeError(e: unknown): string {
  const ce = ConnectError.from(e);
  const code = Code[ce.code] ?? String(ce.code);
  const snake = code.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
  const reason = ce.findDetails(ErrorInfoSchema)[0]?.reason;
  return `${snake}${reason ? ` ${reason}` : ""}: ${ce.rawMessage}`;
}
