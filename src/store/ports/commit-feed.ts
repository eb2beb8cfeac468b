import type { CommitListener } from "../../core/commit.js";

/**
 * The commit feed of this node: every commit this node made, once, in the order the store
 * answered (per room that is version order). See `Commit` in core/commit.ts for the contract.
 * Listeners run synchronously on the committing call's path: keep them cheap (queue, batch later).
 */
export interface CommitFeed {
  /** Adds a listener; returns the function that removes it. */
  onCommit(listener: CommitListener): () => void;
}
