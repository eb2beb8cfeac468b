/**
 * A small typed event emitter. Listeners run synchronously in registration order; a throwing
 * listener is reported through `onListenerError` and never stops the others or the SDK.
 */
export interface Emitter<E extends object> {
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, fn: (payload: E[K]) => void): () => void;
  off<K extends keyof E>(event: K, fn: (payload: E[K]) => void): void;
  emit<K extends keyof E>(event: K, payload: E[K]): void;
  /** Number of listeners of an event (to skip building payloads nobody reads). */
  listenerCount(event: keyof E): number;
  clear(): void;
}

export function createEmitter<E extends object>(onListenerError: (err: unknown) => void = reportAsync): Emitter<E> {
  const listeners = new Map<keyof E, Set<(payload: never) => void>>();
  return {
    on(event, fn) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(fn as (payload: never) => void);
      return () => this.off(event, fn);
    },
    off(event, fn) {
      listeners.get(event)?.delete(fn as (payload: never) => void);
    },
    emit(event, payload) {
      const set = listeners.get(event);
      if (!set) return;
      for (const fn of [...set]) {
        try {
          (fn as (p: typeof payload) => void)(payload);
        } catch (e) {
          onListenerError(e);
        }
      }
    },
    listenerCount: (event) => listeners.get(event)?.size ?? 0,
    clear: () => listeners.clear(),
  };
}

/** Rethrows outside the SDK's call stack, so the error shows up like any uncaught error. */
function reportAsync(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}
