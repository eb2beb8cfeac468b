import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Where the call that is committing something comes from: the client's address and user agent,
 * as the transport knows them. The service runs each store call inside `runWithOrigin`, and the
 * history recorder (a commit-feed listener, called synchronously within that store call) reads it
 * with `currentOrigin()`: the origin reaches the activity log without passing through every store
 * signature. Commits made outside a call (reaps, refreshes, recovery) have no origin.
 */
export interface CallOrigin {
  /** The client's address ("" when unknown). */
  remoteAddr: string;
  /** Its User-Agent header ("" when unknown), cut to 256 characters. */
  userAgent: string;
}

// Created only when something records origins (history on): on Node 20 an active
// AsyncLocalStorage installs promise hooks that every promise of the process then pays for.
let storage: AsyncLocalStorage<CallOrigin> | undefined;

/** Turns origin tracking on (the app does it when history records). Idempotent. */
export function enableCallOrigin(): void {
  storage ??= new AsyncLocalStorage<CallOrigin>();
}

/** Runs `fn` (a store call) with `origin` as the current call origin (just runs it while tracking is off). */
export function runWithOrigin<T>(origin: CallOrigin | undefined, fn: () => T): T {
  return origin && storage ? storage.run(origin, fn) : fn();
}

/** The origin of the call being committed, if any. */
export function currentOrigin(): CallOrigin | undefined {
  return storage?.getStore();
}
