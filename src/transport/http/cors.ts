import { cors as connectCors } from "@connectrpc/connect";
import type * as http from "node:http";

/**
 * CORS for the RPC port (the demo page and browsers on other origins call it). Origins come from
 * `PRESENCE_CORS_ORIGINS` (default `*`). Preflights are answered here; other requests get the
 * headers and go on to the Connect handler. Grpc-Status/-Message/-Status-Details-Bin are exposed
 * so gRPC-Web errors are readable in browsers, and X-Request-Id so browsers can quote it.
 */
export function withCors<Req extends http.IncomingMessage | import("node:http2").Http2ServerRequest, Res extends http.ServerResponse | import("node:http2").Http2ServerResponse>(
  origins: string[],
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  const any = origins.includes("*");
  const exposed = [...connectCors.exposedHeaders, "Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "X-Request-Id"].join(", ");
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string" && (any || origins.includes(origin))) {
      res.setHeader("access-control-allow-origin", any ? "*" : origin);
      if (!any) res.setHeader("vary", "origin");
      res.setHeader("access-control-expose-headers", exposed);
      if (req.method === "OPTIONS") {
        res.setHeader("access-control-allow-methods", connectCors.allowedMethods.join(", "));
        res.setHeader("access-control-allow-headers", [...connectCors.allowedHeaders, "Authorization", "X-Request-Id"].join(", "));
        res.setHeader("access-control-max-age", "7200");
        res.statusCode = 204;
        res.end();
        return;
      }
    }
    handler(req, res);
  };
}
