import { type JsonObject, type Other, type RoomHandle, shallow } from "@presence-platform/client";
import { createContext, createElement, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactElement, type ReactNode } from "react";
import { useRequiredPresenceClient } from "./presence-provider.js";

/**
 * Typed presence in React, Liveblocks-style: `<PresenceRoom room="doc:42" initialPresence={…}>`
 * joins a room through the PresenceProvider's client while mounted (leaves on unmount), and inside
 * it:
 * - `useMyPresence()` → `[presence, setPresence]`: your presence (applied locally at once, sent
 *   merged and rate-limited); `setPresence(partial)` merges top-level keys, `{ replace: true }`
 *   replaces;
 * - `useOthers(selector?, isEqual = shallow)`: the other connections (user, presence, cursor,
 *   activity), or what `selector` picks from them; the component re-renders only when the picked
 *   value changes by `isEqual`, so a selector that ignores cursors is not re-rendered by cursor
 *   moves;
 * - `useSelf(selector?, isEqual)`: your own connection as the room shows it (null until joined);
 * - `useRoom()`: the room handle (typing, cursor, events).
 */
const RoomContext = createContext<RoomHandle | null>(null);

export interface PresenceRoomProps {
  room: string;
  /** Your presence when the room is joined. */
  initialPresence?: JsonObject | undefined;
  /** Metadata of your connection (string map, like `join(room, metadata)`). */
  metadata?: Record<string, string> | undefined;
  children?: ReactNode | undefined;
}

export function PresenceRoom(props: PresenceRoomProps): ReactElement {
  const client = useRequiredPresenceClient("PresenceRoom");
  const [handle, setHandle] = useState<RoomHandle | null>(null);
  const initial = useRef(props);
  initial.current = props;
  useEffect(() => {
    if (client.status === "closed") return;
    const h = client.join(props.room, initial.current.metadata, { presence: initial.current.initialPresence });
    setHandle(h);
    return () => {
      setHandle(null);
      void h.leave();
    };
  }, [client, props.room]);
  return createElement(RoomContext.Provider, { value: handle }, props.children);
}

/** The room handle of the nearest PresenceRoom (null until joined). */
export function useRoom(): RoomHandle | null {
  return useContext(RoomContext);
}

/** Subscribes to the handle's changes and returns `select(handle)`, stable while `isEqual` says so. */
function useSelected<T>(handle: RoomHandle | null, select: (h: RoomHandle | null) => T, isEqual: (a: T, b: T) => boolean, events: ("view" | "myPresence")[]): T {
  const last = useRef<{ handle: RoomHandle | null; value: T } | null>(null);
  const selectRef = useRef(select);
  selectRef.current = select;
  const getSnapshot = () => {
    const next = selectRef.current(handle);
    const prev = last.current;
    if (prev && prev.handle === handle && isEqual(prev.value, next)) return prev.value;
    last.current = { handle, value: next };
    return next;
  };
  const subscribe = useCallback(
    (onChange: () => void) => {
      if (!handle) return () => {};
      const offs = events.map((e) => handle.on(e, onChange));
      return () => offs.forEach((off) => off());
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the event list is constant per hook
    [handle],
  );
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

const NO_OTHERS: readonly Other[] = Object.freeze([]);

export function useOthers(): readonly Other[];
export function useOthers<T>(selector: (others: readonly Other[]) => T, isEqual?: (a: T, b: T) => boolean): T;
export function useOthers<T>(selector?: (others: readonly Other[]) => T, isEqual: (a: T, b: T) => boolean = shallow): T | readonly Other[] {
  const handle = useRoom();
  return useSelected(handle, (h) => (selector ? selector(h?.others ?? NO_OTHERS) : (h?.others ?? NO_OTHERS)), selector ? isEqual : Object.is, ["view"]);
}

export function useSelf(): Other | null;
export function useSelf<T>(selector: (self: Other) => T, isEqual?: (a: T, b: T) => boolean): T | null;
export function useSelf<T>(selector?: (self: Other) => T, isEqual: (a: T, b: T) => boolean = shallow): T | Other | null {
  const handle = useRoom();
  return useSelected(
    handle,
    (h) => {
      const me = h?.selfMember ?? null;
      return me && selector ? selector(me) : me;
    },
    (a, b) => (a === null || b === null ? a === b : selector ? isEqual(a as T, b as T) : Object.is(a, b)),
    ["view"],
  );
}

/** `[presence, setPresence]` of your connection in the nearest PresenceRoom. */
export function useMyPresence(): [JsonObject, (partial: JsonObject, options?: { replace?: boolean | undefined }) => void] {
  const handle = useRoom();
  const presence = useSelected(handle, (h) => h?.presence ?? EMPTY_PRESENCE, Object.is, ["myPresence"]);
  const update = useCallback((partial: JsonObject, options?: { replace?: boolean | undefined }) => handle?.setPresence(partial, options), [handle]);
  return [presence, update];
}

/** Only the setter of `useMyPresence` (components that never read it do not re-render). */
export function useUpdateMyPresence(): (partial: JsonObject, options?: { replace?: boolean | undefined }) => void {
  const handle = useRoom();
  return useCallback((partial: JsonObject, options?: { replace?: boolean | undefined }) => handle?.setPresence(partial, options), [handle]);
}

const EMPTY_PRESENCE: JsonObject = Object.freeze({}) as JsonObject;
