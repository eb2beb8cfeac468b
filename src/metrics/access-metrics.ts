/**
 * The access-control and abuse-resistance metrics of issue 11, on the one registry made by
 * `createMetrics` (registry.ts): denied operations, quota refusals, the authorization hook's
 * decisions, failures and latency, refused and failed connections, and the store memory guard.
 * Labels come from fixed sets (operations, quota names, caller classes, ports, reasons).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { OPERATIONS } from "../core/rights.js";
import { CALLER_CLASSES, QUOTA_NAMES } from "../core/quota.js";

/** Why a connection was refused at accept or upgrade (label `reason` of `presence_connections_refused_total`). */
export const CONNECTION_REFUSALS = ["per_address", "total", "half_open", "accept_paused", "headers_timeout", "idle_timeout"] as const;
export type ConnectionRefusal = (typeof CONNECTION_REFUSALS)[number];

/** The listening ports (label `port`). */
export const PORTS = ["rpc", "ws"] as const;
export type PortName = (typeof PORTS)[number];

/** How a hook call ended (label `result` of `presence_authz_hook_requests_total`). */
export const HOOK_RESULTS = ["ok", "timeout", "connection", "http_status", "invalid_response"] as const;
export type HookResult = (typeof HOOK_RESULTS)[number];

/** Accept errors by code (label `code` of `presence_accept_errors_total`). */
export const ACCEPT_ERROR_CODES = ["EMFILE", "ENFILE", "other"] as const;

type Registers = Registry[];

export function createAccessMetrics(registers: Registers) {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers });
  const accessDenied = counter("presence_access_denied_total", "Access checks refused, by operation and by what refused (rules, hook); hidden users' statuses count too.", ["operation", "by"]);
  const quotaRefusals = counter("presence_quota_refusals_total", "Calls refused with QUOTA_EXCEEDED, by quota and caller class.", ["quota", "caller"]);
  const hookDecisions = counter("presence_authz_hook_decisions_total", "Authorization hook decisions, by operation, decision (allow, deny, error) and source (hook, cache).", ["operation", "decision", "source"]);
  const hookRequests = counter("presence_authz_hook_requests_total", "HTTP calls to the authorization hook, by result.", ["result"]);
  const connectionsRefused = counter("presence_connections_refused_total", "Connections refused or cut before serving a request, by port and reason.", ["port", "reason"]);
  const acceptErrors = counter("presence_accept_errors_total", "Failed accepts (the process ran out of file descriptors), by port and code; accepting pauses and resumes.", ["port", "code"]);
  for (const operation of OPERATIONS) {
    for (const by of ["rules", "hook"]) accessDenied.inc({ operation, by }, 0);
    for (const decision of ["allow", "deny", "error"]) for (const source of ["hook", "cache"]) hookDecisions.inc({ operation, decision, source }, 0);
  }
  for (const quota of QUOTA_NAMES) for (const caller of CALLER_CLASSES) quotaRefusals.inc({ quota, caller }, 0);
  for (const result of HOOK_RESULTS) hookRequests.inc({ result }, 0);
  for (const port of PORTS) {
    for (const reason of CONNECTION_REFUSALS) connectionsRefused.inc({ port, reason }, 0);
    for (const code of ACCEPT_ERROR_CODES) acceptErrors.inc({ port, code }, 0);
  }
  return {
    /** `presence_access_denied_total{operation,by}`. */
    accessDenied,
    /** `presence_quota_refusals_total{quota,caller}`. */
    quotaRefusals,
    /** `presence_authz_hook_decisions_total{operation,decision,source}`. */
    hookDecisions,
    /** `presence_authz_hook_requests_total{result}`. */
    hookRequests,
    /** `presence_authz_hook_duration_seconds`: hook call latency. */
    hookDuration: new Histogram({
      name: "presence_authz_hook_duration_seconds",
      help: "Duration of HTTP calls to the authorization hook.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    /** `presence_connections_refused_total{port,reason}`. */
    connectionsRefused,
    /** `presence_accept_errors_total{port,code}`. */
    acceptErrors,
    /** `presence_store_memory_bytes`: the store's memory use at the guard's last reading (largest Redis master). */
    storeMemory: new Gauge({ name: "presence_store_memory_bytes", help: "Store memory use at the memory guard's last reading (Redis: the largest master's used_memory; memory store: an estimate).", registers }),
    /** `presence_store_memory_budget_bytes`: the guard's budget (0: no guard). */
    storeMemoryBudget: new Gauge({ name: "presence_store_memory_budget_bytes", help: "Store memory budget of the guard; above it new rooms and sessions are refused (0: no guard).", registers }),
    /** `presence_accept_paused{port}`: 1 while accepting is paused after an accept error. */
    acceptPaused: new Gauge<"port">({ name: "presence_accept_paused", help: "1 while new connections are refused after an accept error (out of file descriptors), by port.", labelNames: ["port"], registers }),
  };
}

export type AccessMetrics = ReturnType<typeof createAccessMetrics>;
