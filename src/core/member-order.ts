import type { UserPresence } from "./presence-event.js";
import { decodePageToken, encodePageToken } from "./scope.js";

/**
 * Order and pages of a room's users (GetPresence, BatchGetPresence, WatchPresence snapshots;
 * types.proto `MemberOrder`). JOINED: by the user's first connection's join time, oldest first;
 * LAST_ACTIVE: by the latest activity of any of the user's connections, most recent first; ties by
 * user id. A page token is the position (key, user id) of the last user returned; the next page
 * starts strictly after it, so with LAST_ACTIVE nobody is listed twice in one walk (activity only
 * moves a user ahead) and with JOINED only a user who left and joined again during the walk can be.
 */
export type MemberOrder = "joined" | "last_active";

const TAG: Record<MemberOrder, string> = { joined: "j", last_active: "a" };

/** The sort key of a user under an order. */
export function memberKey(u: UserPresence, order: MemberOrder): number {
  if (order === "joined") {
    let min = Number.POSITIVE_INFINITY;
    for (const c of u.connections) if (c.joinedAtMs < min) min = c.joinedAtMs;
    return Number.isFinite(min) ? min : 0;
  }
  let max = 0;
  for (const c of u.connections) max = Math.max(max, c.lastActiveMs ?? c.joinedAtMs);
  return max;
}

interface Keyed {
  key: number;
  userId: string;
}

function compare(order: MemberOrder, a: Keyed, b: Keyed): number {
  if (a.key !== b.key) return order === "joined" ? a.key - b.key : b.key - a.key;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

/** Users in the order asked for (a new array). */
export function orderUsers(users: readonly UserPresence[], order: MemberOrder): UserPresence[] {
  const keyed = users.map((u) => ({ u, k: { key: memberKey(u, order), userId: u.user.userId } }));
  keyed.sort((a, b) => compare(order, a.k, b.k));
  return keyed.map((x) => x.u);
}

/**
 * One page: the users after `pageToken` in `order`, at most `pageSize`, and the token of the next
 * page ("" when this is the last). Throws INVALID_ARGUMENT for a token of another order or list.
 */
export function pageUsers(
  users: readonly UserPresence[],
  order: MemberOrder,
  pageSize: number,
  pageToken: string,
): { users: UserPresence[]; nextPageToken: string } {
  const after = decodePageToken(TAG[order], pageToken);
  const sorted = orderUsers(users, order);
  let start = 0;
  if (after) {
    const pos = { key: after.lastActiveMs, userId: after.userId };
    while (start < sorted.length && compare(order, { key: memberKey(sorted[start]!, order), userId: sorted[start]!.user.userId }, pos) <= 0) start++;
  }
  const page = sorted.slice(start, start + pageSize);
  const last = page[page.length - 1];
  const more = start + pageSize < sorted.length;
  const nextPageToken = more && last ? encodePageToken(TAG[order], { lastActiveMs: memberKey(last, order), userId: last.user.userId }) : "";
  return { users: page, nextPageToken };
}
