import { loadConfig } from "../src/config.js";
import { LATEST_VERSION, migrate, MigrationError } from "../src/history/sql/migrations.js";
import { createPgClient } from "../src/history/sql/pg-client.js";

/**
 * `npm run history:migrate`: applies the history schema migrations to the PostgreSQL database of
 * PRESENCE_POSTGRES_URL (same variables as the server: pool and timeouts), under the same advisory
 * lock the servers take, then exits. Run it ahead of a deploy (with a database user that may change
 * the schema) and start the servers with PRESENCE_HISTORY_MIGRATIONS=verify. `--check` applies
 * nothing and exits 1 when migrations are missing. Exit codes: 0 done, 1 failed, 2 usage.
 */
const check = process.argv.includes("--check");
const config = loadConfig();
if (!config.history.postgresUrl) {
  process.stderr.write("history:migrate: set PRESENCE_POSTGRES_URL (postgres://user:password@host:5432/database)\n");
  process.exit(2);
}
const client = createPgClient({ url: config.history.postgresUrl, poolSize: 1, connectTimeoutMs: config.history.connectTimeoutMs, statementTimeoutMs: 0 });
try {
  const r = await migrate(client, check ? "verify" : "apply");
  process.stdout.write(`history schema at version ${r.version} (this server needs ${LATEST_VERSION}); applied now: ${r.applied.length > 0 ? r.applied.join(", ") : "none"}\n`);
} catch (e) {
  process.stderr.write(`history:migrate: ${e instanceof MigrationError ? e.message : (e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await client.close();
}
