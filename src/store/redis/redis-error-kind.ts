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

