import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures, the Standard Webhooks way (standardwebhooks.com; libraries exist for most
 * languages): the secret is `whsec_<base64 key>`; a request carries `webhook-id`,
 * `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256(key,
 * "<id>.<timestamp>.<body>")>` (several space-separated signatures while a secret is rotated).
 * Receivers recompute it over the raw body, compare in constant time, and refuse timestamps more
 * than the tolerance (5 minutes) away from their clock: the replay window.
 */
export const SECRET_PREFIX = "whsec_";
export const REPLAY_WINDOW_S = 5 * 60;

/** The HMAC key of a `whsec_…` secret; throws naming the variable when it is malformed or short. */
export function parseWebhookSecret(secret: string, field = "PRESENCE_WEBHOOK_SECRET"): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error(`${field}: must start with ${SECRET_PREFIX} (then the base64 key)`);
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`${field}: the key after ${SECRET_PREFIX} must be base64`);
  const key = Buffer.from(b64, "base64");
  if (key.length < 24) throw new Error(`${field}: the key must be at least 24 bytes (got ${key.length})`);
  return key;
}

/** `v1,<base64 signature>` of one request. */
export function signWebhook(key: Buffer, id: string, timestampS: number, body: string | Buffer): string {
  const mac = createHmac("sha256", key).update(`${id}.${timestampS}.`).update(body).digest("base64");
  return `v1,${mac}`;
}

/** True when one of the `v1,` signatures of the header matches and the timestamp is in the window. */
export function verifyWebhook(key: Buffer, headers: { id: string; timestamp: string; signature: string }, body: string | Buffer, nowS: number, toleranceS = REPLAY_WINDOW_S): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowS - ts) > toleranceS) return false;
  const want = Buffer.from(signWebhook(key, headers.id, ts, body).slice(3), "base64");
  return headers.signature.split(" ").some((sig) => {
    if (!sig.startsWith("v1,")) return false;
    const got = Buffer.from(sig.slice(3), "base64");
    return got.length === want.length && timingSafeEqual(got, want);
  });
}
