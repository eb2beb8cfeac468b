import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { LocationLike, PresenceClient, RoomHandle, ConnectionStatus, PresenceUser, RoomViewState, SelfInfo } from "@presence-platform/client";

/**
 * Presence of one room for a component: joins it (or follows the page) while mounted, leaves on
 * unmount, and re-renders on every view change. Several components may use the same room; the
 * client joins it once. Counts include yourself ("3 people viewing"), guests are a count.
 */
export interface UsePagePresenceOptions {
  /** The room to join. */
  room?: string | undefined;
  /**
   * Follow the page instead: `true` for `globalThis.location` (client-side route changes move
   * the session with Navigate), a URL string, or a Location-like object.
   */
  followPage?: boolean | string | LocationLike | undefined;
  /** Metadata of this connection in the room. */
  metadata?: Record<string, string> | undefined;
  /** With `followPage`: keep the origin in the room name. */
  withOrigin?: boolean | undefined;
}

export interface PagePresenceState {
  /** The room handle (null before mount, or without a client or room). */
  room: RoomHandle | null;
  /** The complete current view, or null until the first one. */
  view: RoomViewState | null;
  /** Listed users, yourself included. */
  users: PresenceUser[];
  /** Distinct users, yourself included. */
  userCount: number;
  /** Guests (anonymous viewers). */
  anonymousCount: number;
  connectionCount: number;
  /** Everyone viewing: users + guests (yourself included). */
  viewerCount: number;
  /** True while the room is joined on a live connection. */
  connected: boolean;
  status: ConnectionStatus;
  self: SelfInfo | null;
  isUserHere(userId: string): boolean;
}

const NO_USERS: PresenceUser[] = [];

export function usePagePresence(client: PresenceClient | null | undefined, options: UsePagePresenceOptions): PagePresenceState {
  const [handle, setHandle] = useState<RoomHandle | null>(null);
  const { room, followPage, withOrigin } = options;
  const target = room !== undefined ? `room:${room}` : followPage === true ? "follow" : typeof followPage === "string" ? `page:${followPage}` : followPage ? "location" : "";
  const followTarget = typeof followPage === "object" ? followPage : undefined;
  const metadataKey = JSON.stringify(options.metadata ?? {});
  const metadataRef = useRef(options.metadata);
  metadataRef.current = options.metadata;

  useEffect(() => {
    if (!client || target === "" || client.status === "closed") return;
    const metadata = metadataRef.current;
    const h =
      room !== undefined
        ? client.join(room, metadata)
        : client.followPage(followPage === true ? undefined : typeof followPage === "string" ? followPage : followTarget, { metadata, withOrigin });
    setHandle(h);
    return () => {
      setHandle(null);
      void h.leave();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- keyed by `target`
  }, [client, target, followTarget, withOrigin]);

  const firstMetadata = useRef(true);
  useEffect(() => {
    if (firstMetadata.current) {
      firstMetadata.current = false;
      return;
    }
    if (handle && metadataRef.current) void handle.setMetadata(metadataRef.current).catch(() => {});
  }, [handle, metadataKey]);

  const cache = useRef<{ view: RoomViewState | null; connected: boolean; status: ConnectionStatus; handle: RoomHandle | null; value: PagePresenceState } | null>(null);
  const getSnapshot = (): PagePresenceState => {
    const view = handle?.view ?? null;
    const connected = handle?.connected ?? false;
    const status = client?.status ?? "idle";
    const c = cache.current;
    if (c && c.view === view && c.connected === connected && c.status === status && c.handle === handle) return c.value;
    const users = view?.users ?? NO_USERS;
    const value: PagePresenceState = {
      room: handle,
      view,
      users,
      userCount: view?.userCount ?? 0,
      anonymousCount: view?.anonymousCount ?? 0,
      connectionCount: view?.connectionCount ?? 0,
      viewerCount: (view?.userCount ?? 0) + (view?.anonymousCount ?? 0),
      connected,
      status,
      self: handle?.self ?? null,
      isUserHere: (userId) => users.some((u) => u.userId === userId),
    };
    cache.current = { view, connected, status, handle, value };
    return value;
  };

  return useSyncExternalStore(
    (onChange) => {
      const offs = [handle?.on("view", onChange), client?.on("status", onChange)];
      return () => {
        for (const off of offs) off?.();
      };
    },
    getSnapshot,
    getSnapshot,
  );
}
