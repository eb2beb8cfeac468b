/**
 * Parsing of the webhook settings (specs: backend-spec.ts). `loadConfig` calls `loadWebhookConfig`;
 * every problem is reported with the variable's name.
 */
import { parseWebhookSecret } from "../transport/webhook/signature.js";
import { WEBHOOK_KINDS, WEBHOOK_SETTING_SPEC, WEBHOOK_SPEC } from "./backend-spec.js";
import type { OptionReader } from "./option-spec.js";

/** Webhooks (PRESENCE_WEBHOOK_URL and friends); absent when no URL is set. */
export interface WebhookConfig {
  url: string;
  /** `whsec_<base64 key>` (Standard Webhooks). */
  secret: string;
  /** Room-name patterns whose room events are sent (empty: every room). */
  rooms: string[];
  /** Kinds sent (empty: every kind). */
  kinds: string[];
  timeoutMs: number;
  retryForMs: number;
  batchMaxEvents: number;
  batchDelayMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  queueMax: number;
}

/** Reads the webhook options; undefined without PRESENCE_WEBHOOK_URL. */
export function loadWebhookConfig(read: OptionReader): WebhookConfig | undefined {
  const W = WEBHOOK_SETTING_SPEC;
  const { problems } = read;
  // Read (and checked) even without a URL, like every other option.
  const nums = Object.fromEntries(Object.entries(WEBHOOK_SPEC).map(([k, s]) => [k, read.num(s)])) as Record<keyof typeof WEBHOOK_SPEC, number>;
  const url = read.str(W.url);
  const secret = read.str(W.secret);
  if (url === undefined) {
    if (secret !== undefined) problems.push(`${W.secret.env} is set but ${W.url.env} is not`);
    return undefined;
  }
  if (!/^https?:\/\/[^\s]+$/.test(url)) problems.push(`${W.url.env}=${JSON.stringify(url)}: must be an http:// or https:// URL`);
  if (secret === undefined) problems.push(`${W.secret.env}: required with ${W.url.env} (whsec_ followed by a base64 key of at least 24 bytes)`);
  else {
    try {
      parseWebhookSecret(secret);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const kinds = read.list(W.kinds);
  for (const k of kinds) if (!(WEBHOOK_KINDS as readonly string[]).includes(k)) problems.push(`${W.kinds.env}: ${JSON.stringify(k)} is not one of ${WEBHOOK_KINDS.join(", ")}`);
  return { url, secret: secret ?? "", rooms: read.list(W.rooms), kinds, ...nums };
}
