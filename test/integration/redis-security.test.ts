import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { freePort, makeTempDir, removeTempDir } from "../support/processes.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/*
 * Redis with credentials and TLS (issue 11): a standalone Redis whose default user may only PING,
 * reached over TLS (a CA made for the test with openssl) as an ACL user whose password comes from a
 * file; and a 3-master Redis Cluster whose seeds need an ACL user. With the credentials the server
 * works (join, watch, keys written under the ACL user); without them it is not ready and calls fail
 * with STORE_UNAVAILABLE (never a crash, never an unauthenticated write).
 */
const run = promisify(execFile);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PASSWORD = "s3cret-redis-password";
const ACL_USER = ["presence", "on", `>${PASSWORD}`, "~*", "&*", "+@all"];

async function makeCerts(dir: string) {
  const ssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=presence-test-ca");
  await ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "redis.key", "-out", "redis.csr", "-subj", "/CN=localhost");
  await writeFile(path.join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await ssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "redis.crt", "-days", "1", "-extfile", "ext.cnf");
  return { ca: path.join(dir, "ca.crt"), cert: path.join(dir, "redis.crt"), key: path.join(dir, "redis.key") };
}

async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startTestServer({ PRESENCE_REDIS_PREFIX: `sec${Date.now() % 100000}`, PRESENCE_READINESS_TIMEOUT_MS: "500", PRESENCE_REDIS_CONNECT_TIMEOUT_MS: "1000", ...env });
  cleanups.push(() => s.close());
  return s;
}

async function joinAndWatch(s: TestServer): Promise<string> {
  const token = await signTestToken(TEST_SECRET, { sub: "ana" }, 600);
  const c = createClient(PresenceService, createGrpcTransport({ baseUrl: s.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))] }));
  try {
    await c.join({ room: "/secure" });
    for await (const m of c.watchPresence({ room: "/secure" })) return `${m.message.case}:${m.message.case === "snapshot" ? m.message.value.view?.counts?.users : ""}`;
    return "ended";
  } catch (e) {
    return `${ConnectError.from(e).code}/${ConnectError.from(e).findDetails(ErrorInfoSchema)[0]?.reason}`;
  }
}

describe("Redis credentials and TLS", () => {
  it("standalone: TLS with a CA file, an ACL user with a password file; without them not ready", async () => {
    const dir = await makeTempDir("presence-tls-");
    cleanups.push(() => removeTempDir(dir));
    const certs = await makeCerts(dir);
    const tlsPort = await freePort();
    const redis: RedisInstance = await startRedis({
      extraArgs: ["--tls-port", String(tlsPort), "--tls-cert-file", certs.cert, "--tls-key-file", certs.key, "--tls-ca-cert-file", certs.ca, "--tls-auth-clients", "no", "--user", "default", "on", "nopass", "-@all", "+ping", "--user", ...ACL_USER],
    });
    cleanups.push(() => redis.stop());
    const passwordFile = path.join(dir, "redis-password");
    await writeFile(passwordFile, `${PASSWORD}\n`);

    const s = await server({
      PRESENCE_REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
      PRESENCE_REDIS_USERNAME: "presence",
      PRESENCE_REDIS_PASSWORD_FILE: passwordFile,
      PRESENCE_REDIS_TLS_CA_FILE: certs.ca,
    });
    expect(await joinAndWatch(s)).toBe("snapshot:1");
    expect((await fetch(`${s.adminUrl}/readyz`)).status).toBe(200);
    // The data is there, written by the ACL user (read back over plain TCP as that user).
    const check = new Redis({ port: redis.port, username: "presence", password: PASSWORD, protocol: 2 });
    cleanups.push(() => check.disconnect());
    expect((await check.keys(`${s.config.redis.prefix}*`)).length).toBeGreaterThan(0);

    // Without credentials (the default user may only PING), or with a CA that does not know the
    // server's certificate: not ready, and calls fail cleanly.
    const anonymous = await server({ PRESENCE_REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, PRESENCE_REDIS_TLS_CA_FILE: certs.ca });
    expect(await joinAndWatch(anonymous)).toBe("14/STORE_UNAVAILABLE");
    expect((await fetch(`${anonymous.adminUrl}/readyz`)).status).toBe(503);
    const untrusted = await server({ PRESENCE_REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, PRESENCE_REDIS_USERNAME: "presence", PRESENCE_REDIS_PASSWORD: PASSWORD });
    expect((await fetch(`${untrusted.adminUrl}/readyz`)).status).toBe(503); // no CA file: the test CA is not trusted
  });

  it("Cluster: the seeds and every node need the ACL user", async () => {
    const cluster: RedisClusterInstance = await startRedisCluster();
    cleanups.push(() => cluster.stop());
    for (const n of cluster.nodes) {
      await n.cli("ACL", "SETUSER", ...ACL_USER);
      await n.cli("ACL", "SETUSER", "default", "on", "nopass", "-@all", "+ping");
    }
    const s = await server({ PRESENCE_REDIS_CLUSTER: cluster.seeds, PRESENCE_REDIS_USERNAME: "presence", PRESENCE_REDIS_PASSWORD: PASSWORD });
    expect(await joinAndWatch(s)).toBe("snapshot:1");
    const without = await server({ PRESENCE_REDIS_CLUSTER: cluster.seeds });
    expect(await joinAndWatch(without)).toBe("14/STORE_UNAVAILABLE");
  });
});

describe("Redis credential options", () => {
  it("are validated: a user needs a password, one password source, a client certificate needs its key", async () => {
    const { loadConfig } = await import("../../src/config.js");
    expect(() => loadConfig({ PRESENCE_REDIS_USERNAME: "u" })).toThrow(/PRESENCE_REDIS_USERNAME: needs PRESENCE_REDIS_PASSWORD/);
    expect(() => loadConfig({ PRESENCE_REDIS_PASSWORD: "a", PRESENCE_REDIS_PASSWORD_FILE: "/x" })).toThrow(/set one, not both/);
    expect(() => loadConfig({ PRESENCE_REDIS_TLS: "true", PRESENCE_REDIS_TLS_CERT_FILE: "/etc/hostname" })).toThrow(/set both/);
    expect(() => loadConfig({ PRESENCE_REDIS_TLS: "true", PRESENCE_REDIS_TLS_CA_FILE: "/nonexistent/ca.pem" })).toThrow(/PRESENCE_REDIS_TLS_CA_FILE="\/nonexistent\/ca.pem": cannot read it/);
    expect(loadConfig({ PRESENCE_REDIS_URL: "rediss://r:6380" }).redis.tls).toEqual({});
    expect(loadConfig({ PRESENCE_REDIS_URL: "redis://r:6379" }).redis.tls).toBeUndefined();
  });
});
