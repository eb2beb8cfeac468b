/**
 * Starts Soketi 1.6.1 for the benchmark (bench/run.ts): the Pusher-protocol server, configured
 * through its own SOKETI_* environment variables from a few flags, then handed to Soketi's CLI.
 *
 *   node bench/peers/soketi/start.mjs --port 6001 [--host 127.0.0.1] [--metrics-port 9601] [--redis redis://127.0.0.1:6380]
 *
 * One app: id `bench`, key `bench-key`, secret `bench-secret` (the generator signs presence
 * subscriptions with it, as a Pusher auth backend would). Client events are enabled (typing and
 * cursors travel as `client-` events on the presence channel). The presence member limit (default
 * 100) is raised so that rooms of the benchmark's size fit; everything else is Soketi's default.
 * `--redis` switches to the Redis adapter (multi-node); without it the local adapter is used.
 * Metrics are off. The shutdown grace is 100 ms (default 3 s) so that a restart is quick.
 */
import { createRequire } from "node:module";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};

export const APP = { id: "bench", key: "bench-key", secret: "bench-secret" };

const env = {
  SOKETI_HOST: arg("host", "127.0.0.1"),
  SOKETI_PORT: arg("port", "6001"),
  SOKETI_DEFAULT_APP_ID: APP.id,
  SOKETI_DEFAULT_APP_KEY: APP.key,
  SOKETI_DEFAULT_APP_SECRET: APP.secret,
  SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: "true",
  SOKETI_PRESENCE_MAX_MEMBERS: "1000000",
  SOKETI_METRICS_ENABLED: "false",
  SOKETI_SHUTDOWN_GRACE_PERIOD: "100",
  SOKETI_DEBUG: "false",
  SOKETI_METRICS_SERVER_PORT: arg("metrics-port", "9601"),
};
const redis = arg("redis", "");
if (redis) {
  const u = new URL(redis);
  Object.assign(env, { SOKETI_ADAPTER_DRIVER: "redis", SOKETI_DB_REDIS_HOST: u.hostname, SOKETI_DB_REDIS_PORT: u.port || "6379" });
}
Object.assign(process.env, env);
process.argv = [process.argv[0], "soketi", "start"];
createRequire(import.meta.url)("@soketi/soketi/bin/server.js");
