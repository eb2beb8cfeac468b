import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DemoTokenError, type DemoTokenIssuer } from "../../auth/demo-tokens.js";
import { ANONYMOUS, withOrigin, type Caller } from "../../core/identity.js";
import { PresenceError } from "../../core/presence-error.js";
import type { ClientAddressOf } from "../http/client-address.js";
import type { HttpAnswer, HttpPeer } from "./ws-engine.js";

/**
 * The demo page on the WebSocket bridge's port (same origin as `/ws`):
 *
 * - `GET /` → `index.html` and `GET /app.js` → `app.js` of `dir` (the output of
 *   `npm run build:demo`, `dist/demo/`). Only these two fixed files are served, whatever the URL
 *   says, so nothing outside `dir` is reachable. When they are missing, `/` answers 503 with a page
 *   saying how to build them.
 * - `GET /demo/token?name=Ana[&key=<the page's random key>]` → `{token, sub, name, expiresAtMs}` signed by
 *   `tokenIssuer` (PRESENCE_DEMO); without an issuer it answers 404 with a JSON error, so the page
 *   can say that only anonymous viewing is possible. Bad input is a 400 with a JSON error.
 *
 * Files are read on each request (they are small, and a rebuild shows up without a restart). The
 * routes are plain functions from a path and query to an answer; the engine writes it.
 */
export interface DemoRoutesOptions {
  /** Directory with the built `index.html` and `app.js`. */
  dir: string;
  /** Signs demo tokens; none: `/demo/token` answers 404. */
  tokenIssuer?: DemoTokenIssuer;
}

const STATIC = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
} as const;

// Same-origin script, inline <style> in index.html, WebSocket to this origin; nothing else.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Presence demo: not built</title></head>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>The demo page is not built</h1>
<p>Run <code>npm run build:demo</code> (or <code>npm start</code>, which builds it first), then reload.</p>
</body></html>
`;

const text = (status: string, body: string): HttpAnswer => ({ status, headers: { "content-type": "text/plain; charset=utf-8" }, body });
const json = (status: string, value: unknown): HttpAnswer => ({ status, headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify(value) });
const COMMON = { "x-content-type-options": "nosniff", "cache-control": "no-store" };

/** The demo routes: an answer for `GET path?query`, or undefined when the path is not theirs. Rejects on I/O failures. */
export function createDemoRoutes(o: DemoRoutesOptions): (path: string, query: string) => Promise<HttpAnswer> | undefined {
  async function serveFile(file: string, type: string): Promise<HttpAnswer> {
    try {
      const body = await readFile(join(o.dir, file));
      const page: Record<string, string> = file === "index.html" ? { "content-security-policy": CSP, "referrer-policy": "no-referrer" } : {};
      return { status: "200 OK", headers: { "content-type": type, ...COMMON, ...page }, body };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      return { status: "503 Service Unavailable", headers: { "content-type": "text/html; charset=utf-8", ...COMMON }, body: NOT_BUILT };
    }
  }

  async function token(query: string): Promise<HttpAnswer> {
    const params = new URLSearchParams(query); // form decoding: "+" is a space
    const answer = (status: string, value: unknown) => {
      const a = json(status, value);
      return { ...a, headers: { ...a.headers, ...COMMON } };
    };
    if (!o.tokenIssuer) return answer("404 Not Found", { error: "demo tokens are off on this server (PRESENCE_DEMO); join anonymously" });
    try {
      return answer("200 OK", await o.tokenIssuer.issue({ name: params.get("name") ?? "", key: params.get("key") ?? "" }));
    } catch (err) {
      if (err instanceof DemoTokenError) return answer("400 Bad Request", { error: err.message });
      throw err;
    }
  }

  return (path, query) => {
    if (path === "/demo/token") return token(query);
    if (!Object.hasOwn(STATIC, path)) return undefined;
    const file = STATIC[path as keyof typeof STATIC];
    return serveFile(file.file, file.type);
  };
}

/** Plain-text answers of the bridge's port outside the demo routes. */
export const HTTP_ANSWERS = {
  upgradeRequired: text("426 Upgrade Required", "WebSocket endpoint: upgrade required"),
  notFound: { status: "404 Not Found", headers: {}, body: "" } satisfies HttpAnswer,
  internal: text("500 Internal Server Error", "internal error"),
  /** A request refused before any route (QUOTA_EXCEEDED: 429), as JSON `{code, reason, message, field?, limit?}`. */
  refused: (e: PresenceError): HttpAnswer =>
    json(e.code === "resource_exhausted" ? "429 Too Many Requests" : "400 Bad Request", { code: e.code, reason: e.reason, message: e.message, ...e.detail }),
};

/**
 * Charges a plain GET on the bridge's port to the request quota of the anonymous caller of the
 * client's address (behind trusted proxies: from X-Forwarded-For), like a Connect call: undefined
 * when admitted, else the 429 answer (QUOTA_EXCEEDED, JSON). No `chargeRequest`: nothing charged.
 */
export function chargePlainGet(
  o: { chargeRequest?: (caller: Caller) => void; clientAddress?: ClientAddressOf },
  peer: HttpPeer,
  onRejected: (reason: string) => void,
): HttpAnswer | undefined {
  const address = o.clientAddress ? o.clientAddress(peer.remoteAddress, peer.forwardedFor) : peer.remoteAddress;
  try {
    o.chargeRequest?.(withOrigin(ANONYMOUS, { address, connection: "ws-http" }));
    return undefined;
  } catch (err) {
    if (!(err instanceof PresenceError)) throw err;
    onRejected(err.reason);
    return HTTP_ANSWERS.refused(err);
  }
}
