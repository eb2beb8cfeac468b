import { startApp, type App, type AppDeps } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { OPEN_ANONYMOUS_RIGHTS } from "./access.js";
import { TEST_SECRET } from "./tokens.js";

/**
 * Starts a real server in this process on 127.0.0.1, port 0 (RPC, admin and WebSocket), with the test JWT
 * secret and shrunken timings. Anonymous callers get the open rights of `access.ts` (production mode
 * gives them none). `env` overrides any PRESENCE_* variable. Stop it with `close()`.
 */
export interface TestServer {
  app: App;
  config: Config;
  baseUrl: string;
  adminUrl: string;
  /** `ws://127.0.0.1:<port>/ws`: the WebSocket bridge. */
  wsUrl: string;
  close(): Promise<void>;
}

export const FAST_TIMINGS_ENV: Record<string, string> = {
  PRESENCE_HEARTBEAT_INTERVAL_MS: "100",
  PRESENCE_SESSION_TTL_MS: "300",
  PRESENCE_REAPER_INTERVAL_MS: "50",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "1000",
};

export async function startTestServer(env: Record<string, string> = {}, deps: AppDeps = {}): Promise<TestServer> {
  const config = loadConfig({
    PRESENCE_HOST: "127.0.0.1",
    PRESENCE_RPC_PORT: "0",
    PRESENCE_ADMIN_PORT: "0",
    PRESENCE_WS_PORT: "0",
    PRESENCE_JWT_SECRET: TEST_SECRET,
    PRESENCE_ANONYMOUS_RIGHTS: OPEN_ANONYMOUS_RIGHTS,
    PRESENCE_LOG_LEVEL: "error",
    // The embedded history (PGlite) costs seconds and hundreds of MB per server: opt in per test.
    PRESENCE_HISTORY: "off",
    ...env,
  });
  const app = await startApp(config, { logger: createLogger("error", () => {}), ...deps });
  return {
    app,
    config,
    baseUrl: `http://127.0.0.1:${app.rpcPort}`,
    adminUrl: `http://127.0.0.1:${app.adminPort}`,
    wsUrl: `ws://127.0.0.1:${app.wsPort}/ws`,
    close: () => app.close(),
  };
}
