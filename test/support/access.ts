import type { Clock } from "../../src/core/clock.js";
import { loadConfig } from "../../src/config.js";
import { createAccessGuard, type AccessGuard } from "../../src/service/access-guard.js";
import { TEST_SECRET } from "./tokens.js";

/**
 * Test servers run in production mode (a key is configured), where anonymous callers have no
 * rights unless configured. Suites that are not about access control (most of them use anonymous
 * watchers and readers) get the rights the server had before issue 11: anonymous callers may join,
 * watch and read every room and see every status. Access tests set PRESENCE_ANONYMOUS_RIGHTS
 * themselves.
 */
export const OPEN_ANONYMOUS_RIGHTS = JSON.stringify({ "**": ["join", "watch", "read"], "user:**": ["status.read", "status.watch"] });

/** An access guard from PRESENCE_* variables (production mode with the test secret, open anonymous rights unless `env` says otherwise). */
export function testAccessGuard(clock: Clock, env: Record<string, string> = {}): AccessGuard {
  const config = loadConfig({ PRESENCE_JWT_SECRET: TEST_SECRET, PRESENCE_ANONYMOUS_RIGHTS: OPEN_ANONYMOUS_RIGHTS, ...env });
  return createAccessGuard({ policy: config.access.policy, quotas: config.access.quotas, maxTrackedCallers: config.access.quotaTrackedCallers, clock });
}
