import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import type { PresenceClient, UserStatusView, UsersHandle } from "@presence-platform/client";
import { usePresenceClient } from "./presence-provider.js";

/**
 * Live statuses of users (online / away / offline, last seen, custom status) for a component: one
 * status per id, in the given order, re-rendered on every change of one of them. Ids may change
 * between renders (the watch follows them); the client comes from the nearest PresenceProvider
 * unless given. Before the server's snapshot every user reads offline, never seen (`ready` false).
 */
export function useUserStatus(userIds: readonly string[], client?: PresenceClient | null): readonly UserStatusView[] {
  return useUsers(userIds, client).statuses;
}

/** `useUserStatus` plus whether the snapshot has arrived. */
export function useUsers(userIds: readonly string[], client?: PresenceClient | null): { statuses: readonly UserStatusView[]; ready: boolean } {
  const fromContext = usePresenceClient();
  const c = client === undefined ? fromContext : client;
  const key = userIds.join("\u0000");
  const [handle, setHandle] = useState<UsersHandle | null>(null);
  useEffect(() => {
    if (!c || key === "" || c.status === "closed") return;
    const h = c.users(key.split("\u0000"));
    setHandle(h);
    return () => {
      setHandle(null);
      h.close();
    };
  }, [c, key]);
  const empty = useMemo(() => ({ statuses: [] as readonly UserStatusView[], ready: false }), []);
  const cache = useMemo(() => ({ statuses: null as readonly UserStatusView[] | null, ready: false, value: empty }), [handle, empty]);
  const snapshot = () => {
    if (!handle) return empty;
    if (cache.statuses !== handle.statuses || cache.ready !== handle.ready) {
      cache.statuses = handle.statuses;
      cache.ready = handle.ready;
      cache.value = { statuses: handle.statuses, ready: handle.ready };
    }
    return cache.value;
  };
  return useSyncExternalStore((onChange) => handle?.on("change", onChange) ?? (() => {}), snapshot, snapshot);
}
