import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

/**
 * Entry point: read the configuration, start the server, and shut down gracefully on SIGTERM or
 * SIGINT (streams end with DRAINING, sockets close, exit 0). A second signal, or the deadline
 * passing with work still open, exits at once with code 1.
 */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  let app;
  try {
    app = await startApp(config, { logger: log });
  } catch (e) {
    // A configuration that cannot run here (e.g. PRESENCE_WS_ENGINE=uws where uWS does not load).
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    log.info("shutting down", { signal });
    const hard = setTimeout(() => {
      log.error("shutdown deadline passed: exiting", { deadlineMs: config.shutdownDeadlineMs });
      process.exit(1);
    }, config.shutdownDeadlineMs + 2_000);
    hard.unref();
    app.close().then(
      () => process.exit(0),
      (err) => {
        log.error("shutdown failed", { err });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`presence server failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
