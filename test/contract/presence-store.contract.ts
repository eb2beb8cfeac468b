import { commitFeedContract } from "./commit-feed.contract.js";
import type { MakeHarness } from "./contract-harness.js";
import { nodeRegistryContract } from "./node-registry.contract.js";
import { roomStoreContract } from "./room-store.contract.js";
import { sessionQuotaContract } from "./session-quota.contract.js";
import { sessionStoreContract } from "./session-store.contract.js";
import { trackerStoreContract } from "./tracker-store.contract.js";
import { backendEventFeedContract } from "./backend-event-feed.contract.js";
import { userStatusStoreContract } from "./user-status-store.contract.js";

export type { ContractHarness, MakeHarness } from "./contract-harness.js";

/**
 * The whole store contract: every port's suite against one implementation. The memory store is
 * the specification; a new store passes these suites unchanged.
 */
export function presenceStoreContract(make: MakeHarness) {
  sessionStoreContract(make);
  sessionQuotaContract(make);
  roomStoreContract(make);
  userStatusStoreContract(make);
  nodeRegistryContract(make);
  commitFeedContract(make);
  trackerStoreContract(make);
  backendEventFeedContract(make);
}
