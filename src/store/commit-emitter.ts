import type { AdminAction, Commit, CommitListener, UserSettingsChange } from "../core/commit.js";
import type { PresenceEvent } from "../core/presence-event.js";
import type { UserStatusRecord } from "../core/user-status.js";
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
  /** Shorthands that build the commit only when someone listens. */
  roomEvent(event: PresenceEvent): void;
  /** `settings`: what a SetStatus set (absent for status changes caused by sessions). */
  userStatus(status: UserStatusRecord, timeMs: number, settings?: UserSettingsChange): void;
  adminAction(action: AdminAction, timeMs: number): void;
}

/** `nodeId`: this node, stamped on every commit it reports. */
export function createCommitEmitter(nodeId: string, onListenerError?: (err: unknown) => void): CommitEmitter {
  // Replaced, never mutated: a listener that removes itself while being called is safe.
  let listeners: readonly CommitListener[] = [];
  const emit = (commit: Commit) => {
    for (const l of listeners) {
      try {
        l(commit);
      } catch (err) {
        onListenerError?.(err);
      }
    }
  };
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
    emit,
    roomEvent(event) {
      if (listeners.length > 0) emit({ type: "room_event", nodeId, timeMs: event.timeMs, event });
    },
    userStatus(status, timeMs, settings) {
      if (listeners.length > 0) emit({ type: "user_status", nodeId, timeMs, status, ...(settings ? { settings } : {}) });
    },
    adminAction(action, timeMs) {
      if (listeners.length > 0) emit({ type: "admin_action", nodeId, timeMs, action });
    },
  };
}
