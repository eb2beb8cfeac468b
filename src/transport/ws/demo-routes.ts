import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";
import { DemoTokenError, type DemoTokenIssuer } from "../../auth/demo-tokens.js";

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
 * Files are read on each request (they are small, and a rebuild shows up without a restart).
 * Handlers follow uWS's rules: read the request first, register `onAborted`, answer inside `cork`,
 * and never throw out of a handler (uws-notes §6.6).
 */
export interface DemoRoutesOptions {
  /** Directory with the built `index.html` and `app.js`. */
  dir: string;
  /** Signs demo tokens; none: `/demo/token` answers 404. */
  tokenIssuer?: DemoTokenIssuer;
  /** An unexpected failure (the request gets a 500). */
  onError?(err: unknown): void;
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

type Answer = { status: string; type: string; body: string | Uint8Array; headers?: Record<string, string> };

export function registerDemoRoutes(app: TemplatedApp, o: DemoRoutesOptions): void {
  const respond = (res: HttpResponse, aborted: { value: boolean }, a: Answer) => {
    if (aborted.value) return;
    res.cork(() => {
      res.writeStatus(a.status).writeHeader("content-type", a.type).writeHeader("x-content-type-options", "nosniff").writeHeader("cache-control", "no-store");
      for (const [k, v] of Object.entries(a.headers ?? {})) res.writeHeader(k, v);
      res.end(a.body);
    });
  };

  /** Runs an async handler the way uWS requires; any failure becomes a 500. */
  const handle = (res: HttpResponse, answer: () => Promise<Answer>) => {
    const aborted = { value: false };
    res.onAborted(() => {
      aborted.value = true;
    });
    answer()
      .catch((err: unknown): Answer => {
        o.onError?.(err);
        return { status: "500 Internal Server Error", type: "text/plain; charset=utf-8", body: "internal error" };
      })
      .then((a) => respond(res, aborted, a))
      .catch((err: unknown) => o.onError?.(err));
  };

  for (const [path, { file, type }] of Object.entries(STATIC)) {
    app.get(path, (res) => {
      try {
        handle(res, async () => {
          try {
            const body = await readFile(join(o.dir, file));
            const headers: Record<string, string> = file === "index.html" ? { "content-security-policy": CSP, "referrer-policy": "no-referrer" } : {};
            return { status: "200 OK", type, body, headers };
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
            return { status: "503 Service Unavailable", type: "text/html; charset=utf-8", body: NOT_BUILT };
          }
        });
      } catch (err) {
        o.onError?.(err);
      }
    });
  }

  app.get("/demo/token", (res: HttpResponse, req: HttpRequest) => {
    try {
      const query = new URLSearchParams(req.getQuery() ?? ""); // form decoding: "+" is a space
      const name = query.get("name") ?? "";
      const key = query.get("key") ?? "";
      handle(res, async () => {
        const json = (status: string, value: unknown): Answer => ({ status, type: "application/json; charset=utf-8", body: JSON.stringify(value) });
        if (!o.tokenIssuer) return json("404 Not Found", { error: "demo tokens are off on this server (PRESENCE_DEMO); join anonymously" });
        try {
          return json("200 OK", await o.tokenIssuer.issue({ name, key }));
        } catch (err) {
          if (err instanceof DemoTokenError) return json("400 Bad Request", { error: err.message });
          throw err;
        }
      });
    } catch (err) {
      o.onError?.(err);
    }
  });
}
