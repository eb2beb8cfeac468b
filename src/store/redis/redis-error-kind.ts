/** A bounded label for a Redis failure. */
export function redisErrorKind(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/timed? ?out/i.test(msg)) return "timeout";
  if (/enableOfflineQueue|Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE/i.test(msg)) return "connection";
  if (msg.startsWith("CROSSSLOT")) return "crossslot";
  if (msg.startsWith("OOM")) return "oom";
  if (msg.startsWith("READONLY")) return "readonly";
  if (msg.startsWith("NOSCRIPT")) return "noscript";
  if (/MOVED|ASK|CLUSTERDOWN/.test(msg)) return "cluster";
  return "other";
}


/**
 * A Cluster answer that means the command did not run (the slot is elsewhere, half-moved or the
 * cluster is reconfiguring), or ioredis' refusal to send an auto-pipeline whose slots changed owner
 * meanwhile: safe to send again, even for a script that writes (F-R8, a slot migration).
 */
export function clusterNotRun(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(msg) || msg.includes("should belong to the same slots allocation group");
}
