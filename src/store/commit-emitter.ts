import type { Commit, CommitListener } from "../core/commit.js";
import type { CommitFeed } from "./ports/commit-feed.js";

/**
 * The commit feed's implementation, shared by the stores: a list of listeners called in order,
 * synchronously. A listener that throws is reported through `onListenerError` and the others still
 * run. `active` lets the stores skip building commits nobody listens to.
 */
export interface CommitEmitter extends CommitFeed {
  /** True while at least one listener is registered. */
  readonly active: boolean;
  emit(commit: Commit): void;
}

export function createCommitEmitter(onListenerError?: (err: unknown) => void): CommitEmitter {
  // Replaced, never mutated: a listener that removes itself while being called is safe.
  let listeners: readonly CommitListener[] = [];
  return {
    get active() {
      return listeners.length > 0;
    },
    onCommit(listener) {
      listeners = [...listeners, listener];
      return () => {
        listeners = listeners.filter((l) => l !== listener);
      };
    },
    emit(commit) {
      for (const l of listeners) {
        try {
          l(commit);
        } catch (err) {
          onListenerError?.(err);
        }
      }
    },
  };
}
