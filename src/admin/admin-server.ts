/**
 * The admin HTTP server (default port 9464): `GET /metrics`, `GET /healthz`, `GET /readyz`.
 *
 * Liveness answers 200 while the event loop runs and never consults dependencies, so a slow store
 * does not get the process killed. Readiness asks `ready()` on every request and waits at most
 * `readyTimeoutMs`: a check that rejects or takes longer answers 503, so a load balancer stops
 * routing here. `close()` stops listening and destroys open connections at once (scrapers keep
 * connections alive; nothing here is worth waiting for).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Readiness } from "../health/readiness-monitor.js";
import type { Metrics } from "../metrics/registry.js";

/** The result of a readiness check; `detail` is shown in the 503 body. */
export type { Readiness };

/** Options of {@link createAdminServer}. */
export interface AdminServerOptions {
  /** Scraped on `GET /metrics`. */
  metrics: Metrics;
  /** Asked on every `GET /readyz` (the readiness monitor's `probe()`: a real probe each time). */
  ready: () => Promise<Readiness>;
  /** A readiness check slower than this answers 503 (app.ts: PRESENCE_READINESS_TIMEOUT_MS + 1 s). */
  readyTimeoutMs: number;
}

/** The admin server. Routes other than the three `GET`s (or `HEAD`s) answer 404. */
export interface AdminServer {
  /** Binds and resolves with the bound port (useful with port 0). Rejects on bind errors. */
  listen(port: number, host: string): Promise<{ port: number }>;
  /** Stops listening and closes every connection; resolves when closed. Never rejects. */
  close(): Promise<void>;
}

/** Creates the admin server (not yet listening). */
export function createAdminServer(options: AdminServerOptions): AdminServer {
  const readyTimeoutMs = options.readyTimeoutMs;
  if (!Number.isFinite(readyTimeoutMs) || readyTimeoutMs <= 0) {
    throw new RangeError(`readyTimeoutMs: must be a number > 0 (got ${readyTimeoutMs})`);
  }
  const { registry } = options.metrics;

  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    const isRead = req.method === "GET" || req.method === "HEAD";
    if (isRead && path === "/healthz") return send(res, 200, "ok\n");
    if (isRead && path === "/readyz") return void readiness().then(([status, body]) => send(res, status, body));
    if (isRead && path === "/metrics") {
      return void registry.metrics().then(
        (text) => send(res, 200, text, registry.contentType),
        (err: unknown) => send(res, 500, `metrics collection failed: ${messageOf(err)}\n`),
      );
    }
    send(res, 404, "not found\n");
  });

  async function readiness(): Promise<[number, string]> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Readiness>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, detail: `readiness check timed out after ${readyTimeoutMs} ms` }), readyTimeoutMs);
    });
    try {
      const result = await Promise.race([Promise.resolve().then(options.ready), timedOut]);
      return result.ok ? [200, "ok\n"] : [503, `${result.detail ?? "not ready"}\n`];
    } catch (err) {
      return [503, `readiness check failed: ${messageOf(err)}\n`];
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          resolve({ port: (server.address() as AddressInfo).port });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve()); // also called (with an error) if it never listened
        server.closeAllConnections();
      });
    },
  };
}

function send(res: http.ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
