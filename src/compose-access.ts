/**
 * The access-control part of the composition root (split from app.ts, which stays the only other
 * module that knows concrete implementations): the authorization hook client, the AccessGuard every
 * entry point asks, the store memory guard, per-address connection counting and the client-address
 * resolver shared by both ports, and a rate-limited warning for failures that repeat per call.
 */
import { getHeapStatistics } from "node:v8";
import { createAuthorizationHook } from "./auth/authorization-hook.js";
import type { Config } from "./config.js";
import type { Clock } from "./core/clock.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics/registry.js";
import { createAccessGuard } from "./service/access-guard.js";
import { createMemoryGuard } from "./service/memory-guard.js";
import type { StoreHealth } from "./store/ports/store-health.js";
import { createClientAddress } from "./transport/http/client-address.js";
import { createConnectionLimiter } from "./transport/http/connection-limiter.js";

export interface ComposeAccessOptions {
  config: Config;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  store: Pick<StoreHealth, "memoryUsage">;
  /** True for the embedded memory store (its automatic memory budget is half the V8 heap limit). */
  embeddedStore: boolean;
}

export function composeAccess(o: ComposeAccessOptions) {
  /** A warning at most once a minute per kind (hook down, out of file descriptors: they repeat per call). */
  const warnedAt = new Map<string, number>();
  const warnEvery = (kind: string, message: string, fields: Record<string, unknown>) => {
    const now = Date.now();
    if (now - (warnedAt.get(kind) ?? 0) < 60_000) return;
    warnedAt.set(kind, now);
    o.log.warn(message, fields);
  };
  const hookConfig = o.config.access.hook;
  const hook = hookConfig
    ? createAuthorizationHook({
        ...hookConfig,
        onDecision: (operation, decision, source) => o.metrics.hookDecisions.inc({ operation, decision, source }),
        onRequest: (result, seconds) => {
          o.metrics.hookRequests.inc({ result });
          o.metrics.hookDuration.observe(seconds);
        },
        onFailure: (kind, detail) => warnEvery(`hook_${kind}`, `authorization hook failed: ${detail}; ${hookConfig.failOpen ? "allowing (PRESENCE_AUTHZ_HOOK_FAIL_OPEN)" : "refusing (fail closed)"}`, { kind, url: hookConfig.url }),
      })
    : undefined;
  const access = createAccessGuard({
    policy: o.config.access.policy,
    quotas: o.config.access.quotas,
    maxTrackedCallers: o.config.access.quotaTrackedCallers,
    clock: o.clock,
    hook,
    onDenied: (operation, by) => o.metrics.accessDenied.inc({ operation, by }),
    onQuotaRefused: (quota, caller) => o.metrics.quotaRefusals.inc({ quota, caller }),
  });
  if (o.config.access.policy.mode === "development") {
    o.log.warn(
      "DEVELOPMENT MODE: no key is configured, so every caller (anonymous included) may join, watch and read every room and see every status, and GET /demo/token mints tokens; set PRESENCE_JWT_SECRET, PRESENCE_JWKS_FILE or PRESENCE_JWKS_URL before exposing this server (docs/security.md)",
    );
  }
  // The memory store's automatic budget: half the V8 heap limit (it lives in this process's heap).
  const budgetBytes = o.config.access.memoryGuard.budgetBytes || (o.embeddedStore ? Math.floor(getHeapStatistics().heap_size_limit / 2) : 0);
  if (budgetBytes === 0 && o.config.access.policy.mode === "production") {
    o.log.warn("no store memory budget (PRESENCE_STORE_MEMORY_BUDGET_BYTES): set it below Redis maxmemory, so new rooms and sessions are refused before Redis refuses every write");
  }
  o.metrics.storeMemoryBudget.set(budgetBytes);
  const memory = createMemoryGuard({
    health: o.store,
    clock: o.clock,
    budgetBytes,
    intervalMs: o.config.access.memoryGuard.checkMs,
    onSample: (used) => o.metrics.storeMemory.set(used),
    onError: (err) => {
      o.metrics.loopErrors.inc({ loop: "memory_guard" });
      o.log.warn("store memory reading failed", { err });
    },
  });
  const clientAddress = createClientAddress(o.config.access.trustedProxies);
  const limiter = createConnectionLimiter({ maxPerAddress: o.config.access.connections.maxPerAddress, trustedProxies: o.config.access.trustedProxies });
  return { access, memory, limiter, clientAddress, warnEvery };
}
