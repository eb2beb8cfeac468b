import { execFile, execFileSync } from "node:child_process";
import { chmod, chown, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createPgClient } from "../../src/history/sql/pg-client.js";
import type { SqlClient } from "../../src/history/sql/sql-client.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { makeTempDir, removeTempDir } from "../support/processes.js";
import { startTestServer } from "../support/server.js";
import { connectClient } from "../support/clients.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * History on PostgreSQL over TLS (docs/history.md, "PostgreSQL"): a real PostgreSQL 15 with
 * `ssl=on` and a server certificate signed by a CA made for the test with openssl (SAN
 * IP:127.0.0.1). The connection string is passed to node-postgres as is, so its TLS parameters are
 * the options: `sslmode=verify-full&sslrootcert=<CA file>` verifies the server (a wrong CA is
 * refused, nothing is sent in clear), `sslmode=no-verify` encrypts without verifying, and
 * `sslmode=require` follows node-postgres: it verifies like verify-full (a self-signed server
 * without its CA is refused) unless `uselibpqcompat=true` gives libpq's meaning (encrypt only).
 * Each connection's encryption is read back from `pg_stat_ssl`. Then a whole server records
 * through a verify-full URL.
 */
const run = promisify(execFile);
let pg: PostgresInstance;
let dir: string;
let ca: string;
let otherCa: string;
const clients: SqlClient[] = [];

async function makeCerts(d: string) {
  const ssl = (...args: string[]) => run("openssl", args, { cwd: d });
  for (const name of ["ca", "other-ca"]) await ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "1", "-subj", `/CN=presence-test-${name}`);
  await ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  await writeFile(path.join(d, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "ext.cnf");
  // PostgreSQL refuses a key file others can read; it runs as `postgres` when the tests run as root.
  await chmod(path.join(d, "server.key"), 0o600);
  if (process.getuid?.() === 0) {
    const [uid, gid] = ["-u", "-g"].map((f) => Number(execFileSync("id", [f, "postgres"]).toString().trim())) as [number, number];
    for (const f of ["", "server.key", "server.crt"]) await chown(path.join(d, f), uid, gid);
  }
}

beforeAll(async () => {
  dir = await makeTempDir("presence-pg-tls-");
  await makeCerts(dir);
  ca = path.join(dir, "ca.crt");
  otherCa = path.join(dir, "other-ca.crt");
  pg = await startPostgres({ extraArgs: ["-c", "ssl=on", "-c", `ssl_cert_file=${path.join(dir, "server.crt")}`, "-c", `ssl_key_file=${path.join(dir, "server.key")}`] });
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await pg?.stop();
  if (dir) await removeTempDir(dir);
});

const withParams = (url: string, params: string) => `${url}${url.includes("?") ? "&" : "?"}${params}`;
/** Whether this connection is encrypted, as the server sees it. */
async function encrypted(url: string): Promise<boolean> {
  const c = createPgClient({ url, poolSize: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000 });
  clients.push(c);
  const [r] = await c.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  return r!.ssl;
}

describe("history on PostgreSQL over TLS", () => {
  test("verify-full with the CA file encrypts; a wrong CA is refused; no-verify and libpq's require encrypt; plain stays plain", async () => {
    expect(await encrypted(withParams(pg.url, `sslmode=verify-full&sslrootcert=${ca}`))).toBe(true);
    await expect(encrypted(withParams(pg.url, `sslmode=verify-full&sslrootcert=${otherCa}`))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    expect(await encrypted(withParams(pg.url, "sslmode=no-verify"))).toBe(true);
    expect(await encrypted(withParams(pg.url, "sslmode=require&uselibpqcompat=true"))).toBe(true);
    // node-postgres's own meaning of require: verified, so a server it cannot verify is refused.
    await expect(encrypted(withParams(pg.url, "sslmode=require"))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    expect(await encrypted(withParams(pg.url, `sslmode=require&sslrootcert=${ca}`))).toBe(true);
    expect(await encrypted(pg.url)).toBe(false);
  });

  test("a server records its history through a verify-full URL", async () => {
    const url = withParams(await pg.createDatabase(), `sslmode=verify-full&sslrootcert=${ca}`);
    const server = await startTestServer({ PRESENCE_HISTORY: "postgres", PRESENCE_POSTGRES_URL: url, PRESENCE_HISTORY_FLUSH_MS: "50" });
    try {
      await server.app.history.ready;
      const ana = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub: "ana" }));
      const j = await ana.join({ room: "/tls/1", metadata: {} });
      await server.app.history.writer.flush();
      const rows = await server.app.history.store()!.listActivity({ sinceMs: 0, untilMs: Date.now() + 60_000, kinds: ["join"], includeInvisible: true, newestFirst: false }, undefined, 10);
      expect(rows.rows.map((r) => [r.room, r.userId, r.connectionId])).toEqual([["/tls/1", "ana", j.session!.connectionId]]);
      const sessions = (await pg.pool(withParams(pg.url, `sslmode=verify-full&sslrootcert=${ca}`)).query("SELECT count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'presence' AND s.ssl")).rows[0].n;
      expect(sessions).toBeGreaterThan(0);
      ana.close?.();
    } finally {
      await server.close();
    }
  });
});
