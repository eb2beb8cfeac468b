/**
 * The client of the application's authorization hook (proto/presence/v1/access.proto,
 * docs/security.md): asks the backend for decisions the configured rules cannot make, caches them,
 * and fails closed.
 *
 * - One HTTP POST (Connect unary, JSON) per question; a question about many resources (a
 *   GetUserStatus of 500 users) is one request per `maxBatch` resources, only for resources not in
 *   the cache, and concurrent questions about the same (caller, operation, resource) share one
 *   request.
 * - Decisions are cached (lru-cache: at most `cacheSize`, least recently used dropped first) for
 *   `allowTtlMs` / `denyTtlMs`, or the decision's own `ttl_ms`.
 * - A failed call (timeout, connection error, non-2xx, a body that is not an AuthorizeResponse with
 *   one decision per resource) rejects with AUTH_UNAVAILABLE (fail closed), or allows when
 *   `failOpen`; the same questions then fail at once for `failureTtlMs`, so a down hook is not
 *   hammered by every call. Failures are counted by kind and reported (the app rate-limits the log).
 */
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { LRUCache } from "lru-cache";
import { AuthorizeRequestSchema, AuthorizeResponseSchema } from "../../gen/presence/v1/access_pb.js";
import type { AccessConfig } from "../config/access-config.js";
import { authUnavailable } from "../core/access-errors.js";
import type { Principal } from "../core/access-policy.js";
import type { Operation } from "../core/rights.js";
import type { AuthorizationHook } from "../service/access-guard.js";

export type HookFailure = "timeout" | "connection" | "http_status" | "invalid_response";

/** The hook's settings (`AccessConfig["hook"]`, from the PRESENCE_AUTHZ_HOOK_* options) and its observers. */
export type AuthorizationHookOptions = NonNullable<AccessConfig["hook"]> & {
  /** One decision per resource, with where it came from (metrics). */
  onDecision?: (op: Operation, decision: "allow" | "deny" | "error", source: "hook" | "cache") => void;
  /** Each HTTP call: "ok" or why it failed, and how long it took (metrics). */
  onRequest?: (result: "ok" | HookFailure, seconds: number) => void;
  /** A failed call, for the (rate-limited) log. */
  onFailure?: (kind: HookFailure, detail: string) => void;
};

type Cached = { allow: boolean } | { error: true };

class HookCallError extends Error {
  constructor(
    readonly kind: HookFailure,
    message: string,
  ) {
    super(message);
  }
}

export function createAuthorizationHook(o: AuthorizationHookOptions): AuthorizationHook {
  const cache = o.cacheSize > 0 ? new LRUCache<string, Cached>({ max: o.cacheSize, ttlAutopurge: false }) : undefined;
  const inFlight = new Map<string, Promise<boolean>>();
  const keyOf = (p: Principal, op: Operation, r: string) => `${p.role}\u0000${p.subject}\u0000${op}\u0000${r}`;

  async function call(p: Principal, op: Operation, resources: string[]): Promise<{ allow: boolean; ttlMs: number }[]> {
    const t0 = performance.now();
    const body = JSON.stringify(toJson(AuthorizeRequestSchema, create(AuthorizeRequestSchema, { subject: p.subject, role: p.role === "admin" ? "service" : p.role, operation: op, resources })));
    const headers: Record<string, string> = { "content-type": "application/json", "connect-protocol-version": "1" };
    if (o.authorization !== undefined) headers.authorization = o.authorization;
    let res: Response;
    try {
      res = await fetch(o.url, { method: "POST", headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
    } catch (err) {
      const timeout = (err as Error).name === "TimeoutError";
      throw new HookCallError(timeout ? "timeout" : "connection", timeout ? `no answer within ${o.timeoutMs} ms` : `cannot connect (${(err as Error).message})`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new HookCallError((err as Error).name === "TimeoutError" ? "timeout" : "connection", `body not received (${(err as Error).message})`);
    }
    if (res.status < 200 || res.status > 299) throw new HookCallError("http_status", `answered HTTP ${res.status}`);
    let decisions: { allow: boolean; ttlMs: number }[];
    try {
      const parsed = fromJson(AuthorizeResponseSchema, JSON.parse(text), { ignoreUnknownFields: true });
      decisions = parsed.decisions.map((d) => ({ allow: d.allow, ttlMs: Number(d.ttlMs) }));
    } catch (err) {
      throw new HookCallError("invalid_response", `answered a body that is not an AuthorizeResponse (${(err as Error).message})`);
    }
    if (decisions.length !== resources.length) throw new HookCallError("invalid_response", `answered ${decisions.length} decisions for ${resources.length} resources`);
    o.onRequest?.("ok", (performance.now() - t0) / 1000);
    return decisions;
  }

  /** Asks the hook about `resources` (none cached, none in flight), in batches, filling the cache. */
  function ask(p: Principal, op: Operation, resources: string[]): Map<string, Promise<boolean>> {
    const out = new Map<string, Promise<boolean>>();
    for (let i = 0; i < resources.length; i += o.maxBatch) {
      const batch = resources.slice(i, i + o.maxBatch);
      const t0 = performance.now();
      const answers = call(p, op, batch).then(
        (ds) => {
          ds.forEach((d, k) => {
            const ttl = d.ttlMs > 0 ? d.ttlMs : d.allow ? o.allowTtlMs : o.denyTtlMs;
            if (ttl > 0) cache?.set(keyOf(p, op, batch[k]!), { allow: d.allow }, { ttl });
            o.onDecision?.(op, d.allow ? "allow" : "deny", "hook");
          });
          return ds.map((d) => d.allow);
        },
        (err: unknown) => {
          const e = err instanceof HookCallError ? err : new HookCallError("connection", String(err));
          o.onRequest?.(e.kind, (performance.now() - t0) / 1000);
          o.onFailure?.(e.kind, e.message);
          for (const r of batch) {
            if (o.failureTtlMs > 0) cache?.set(keyOf(p, op, r), { error: true }, { ttl: o.failureTtlMs });
            o.onDecision?.(op, "error", "hook");
          }
          if (o.failOpen) return batch.map(() => true);
          throw authUnavailable("the authorization hook", e);
        },
      );
      batch.forEach((r, k) => {
        const key = keyOf(p, op, r);
        const one = answers.then((a) => a[k]!);
        one.catch(() => {}); // the caller awaits it; an unobserved copy must not crash the process
        inFlight.set(key, one);
        void one.finally(() => inFlight.delete(key)).catch(() => {});
        out.set(r, one);
      });
    }
    return out;
  }

  return {
    async decide(p, op, resources) {
      const pending: string[] = [];
      const answers: Promise<boolean>[] = resources.map((r) => {
        const key = keyOf(p, op, r);
        const hit = cache?.get(key);
        if (hit !== undefined) {
          if ("error" in hit) {
            o.onDecision?.(op, "error", "cache");
            return o.failOpen ? Promise.resolve(true) : Promise.reject(authUnavailable("the authorization hook"));
          }
          o.onDecision?.(op, hit.allow ? "allow" : "deny", "cache");
          return Promise.resolve(hit.allow);
        }
        const flying = inFlight.get(key);
        if (flying) return flying;
        pending.push(r);
        return undefined as unknown as Promise<boolean>;
      });
      if (pending.length > 0) {
        const asked = ask(p, op, [...new Set(pending)]);
        resources.forEach((r, i) => {
          if (answers[i] === undefined) answers[i] = asked.get(r)!;
        });
      }
      return Promise.all(answers);
    },
  };
}
