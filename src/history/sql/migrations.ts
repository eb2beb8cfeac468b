import { createHash } from "node:crypto";
import type { SqlClient } from "./sql-client.js";

/**
 * Versioned schema migrations of the history database, applied in order under a PostgreSQL
 * advisory lock so that several nodes starting together are safe: the first one applies them,
 * the others wait for the lock and then find nothing to do. Each migration runs in its own
 * transaction together with its row in `presence.schema_migrations` (version, name, checksum of
 * its SQL, applied_at), so a failed migration leaves no trace and is retried at the next start.
 *
 * Everything lives in the `presence` schema, so the history can share a database with the
 * application (the chat seed's own PostgreSQL) without name clashes.
 *
 * Migrations are never edited once released: a stored checksum that differs from the code's stops
 * the start with a message. A database that has migrations this code does not know (a newer
 * server ran first during a rolling deploy) is accepted: migrations only add.
 *
 * Run them ahead of a deploy with `npm run history:migrate` (PRESENCE_POSTGRES_URL set), then
 * start servers with PRESENCE_HISTORY_MIGRATIONS=verify so that a server whose database user may
 * not change the schema refuses to start on an old schema instead of failing later.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Key of the advisory lock taken while migrating (any constant bigint; "presence" in ASCII). */
export const MIGRATION_LOCK_KEY = "8102650225890321253";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "activity log and durable user status",
    sql: `
CREATE TABLE presence.activity (
  seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_key      text NOT NULL,
  at_ms          bigint NOT NULL,
  at             timestamptz GENERATED ALWAYS AS (to_timestamp(at_ms / 1000.0)) STORED,
  kind           text NOT NULL CHECK (kind IN ('join', 'leave', 'update', 'anonymous', 'status', 'admin', 'gap')),
  room           text COLLATE "C" NOT NULL DEFAULT '',
  user_id        text COLLATE "C" NOT NULL DEFAULT '',
  connection_id  text NOT NULL DEFAULT '',
  reason         text NOT NULL DEFAULT '',
  node_id        text NOT NULL DEFAULT '',
  remote_addr    text NOT NULL DEFAULT '',
  user_agent     text NOT NULL DEFAULT '',
  epoch          text NOT NULL DEFAULT '',
  version        bigint NOT NULL DEFAULT 0,
  invisible      boolean NOT NULL DEFAULT false,
  users          integer NOT NULL DEFAULT 0,
  connections    integer NOT NULL DEFAULT 0,
  anonymous      integer NOT NULL DEFAULT 0,
  detail         jsonb NOT NULL DEFAULT '{}',
  recorded_ms    bigint NOT NULL
);
CREATE UNIQUE INDEX activity_event_key ON presence.activity (event_key);
CREATE INDEX activity_at ON presence.activity (at_ms, seq);
CREATE INDEX activity_room_at ON presence.activity (room, at_ms, seq);
CREATE INDEX activity_user_at ON presence.activity (user_id, at_ms, seq) WHERE user_id <> '';
CREATE INDEX activity_room_epoch ON presence.activity (room, epoch, version) WHERE version > 0;
COMMENT ON TABLE presence.activity IS 'Presence activity log: membership events, status changes, admin actions, gaps (see docs/history.md)';

CREATE TABLE presence.user_status (
  user_id              text PRIMARY KEY,
  last_seen_ms         bigint NOT NULL DEFAULT 0,
  visible_last_seen_ms bigint NOT NULL DEFAULT 0,
  custom_status        text NOT NULL DEFAULT '',
  invisible            boolean NOT NULL DEFAULT false,
  updated_ms           bigint NOT NULL
);
CREATE INDEX user_status_last_seen ON presence.user_status (last_seen_ms);
COMMENT ON TABLE presence.user_status IS 'Durable user status: last seen, custom status, invisible flag (survives Redis data loss)';
`,
  },
  {
    version: 2,
    name: "user status: when the user set her custom status and invisible flag",
    sql: `
ALTER TABLE presence.user_status
  ADD COLUMN custom_status_ms bigint NOT NULL DEFAULT 0,
  ADD COLUMN invisible_ms     bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN presence.user_status.custom_status_ms IS 'When the user last set custom_status (SetStatus commit time, ms; 0: taken from a session change)';
COMMENT ON COLUMN presence.user_status.invisible_ms IS 'When the user last set invisible (SetStatus commit time, ms; 0: taken from a session change)';
`,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const checksum = (sql: string) => createHash("sha256").update(sql).digest("hex").slice(0, 16);

export interface MigrationResult {
  /** Versions applied by this call. */
  applied: number[];
  /** Highest version in the database afterwards. */
  version: number;
}

/** Thrown when the schema cannot be used: an edited migration, or an old schema in verify mode. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

/**
 * Brings the schema to the latest version (`mode: "apply"`), or only checks that it is there
 * (`mode: "verify"`: throws a MigrationError naming the missing versions and the command to run).
 */
export async function migrate(client: SqlClient, mode: "apply" | "verify" = "apply"): Promise<MigrationResult> {
  return client.session(async (q) => {
    await q.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`);
    try {
      await q.exec(`CREATE SCHEMA IF NOT EXISTS presence;
CREATE TABLE IF NOT EXISTS presence.schema_migrations (
  version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());`);
      const rows = await q.query<{ version: number; checksum: string }>("SELECT version, checksum FROM presence.schema_migrations ORDER BY version");
      const done = new Map(rows.map((r) => [Number(r.version), r.checksum]));
      for (const m of MIGRATIONS) {
        const stored = done.get(m.version);
        if (stored !== undefined && stored !== checksum(m.sql)) {
          throw new MigrationError(`history schema: migration ${m.version} (${m.name}) in the database differs from this server's (checksum ${stored} ≠ ${checksum(m.sql)}); migrations must never be edited`);
        }
      }
      const missing = MIGRATIONS.filter((m) => !done.has(m.version));
      if (mode === "verify" && missing.length > 0) {
        throw new MigrationError(`history schema: migrations ${missing.map((m) => m.version).join(", ")} are not applied (PRESENCE_HISTORY_MIGRATIONS=verify); run \`npm run history:migrate\` with PRESENCE_POSTGRES_URL set`);
      }
      const applied: number[] = [];
      for (const m of missing) {
        await q.exec("BEGIN");
        try {
          await q.exec(m.sql);
          await q.query("INSERT INTO presence.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [m.version, m.name, checksum(m.sql)]);
          await q.exec("COMMIT");
        } catch (e) {
          await q.exec("ROLLBACK").catch(() => {});
          throw e;
        }
        applied.push(m.version);
      }
      return { applied, version: Math.max(0, ...done.keys(), ...applied) };
    } finally {
      await q.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`).catch(() => {});
    }
  });
}
