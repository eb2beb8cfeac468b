import { roomFromUrl } from "../../../src/core/room-name.js";

/**
 * Following the page a tab shows: the room is the page URL without query, fragment and trailing
 * slash (`roomFromUrl`, design §3), and a client-side route change moves the session to the new
 * room with one Navigate. Route changes are seen through the Navigation API
 * (`currententrychange`) where it exists, else through `popstate` plus a one-time wrapper of
 * `history.pushState` / `replaceState` (single-page routers call those).
 */

/** The part of `window.location` used here. */
export interface LocationLike {
  readonly href: string;
  readonly pathname: string;
}

export interface FollowPageOptions {
  /** Metadata of this connection in every page's room. */
  metadata?: Record<string, string> | undefined;
  /**
   * Keep the origin in the room name (`https://example.com/docs/a`) instead of the path only
   * (`/docs/a`, the default for a Location). Strings are passed to `roomFromUrl` as they are.
   */
  withOrigin?: boolean | undefined;
}

/** The room of a page: a URL string as given, or a Location's path (or href with `withOrigin`). */
export function roomOfPage(page: string | LocationLike, withOrigin = false): string {
  if (typeof page === "string") return roomFromUrl(page);
  return roomFromUrl(withOrigin ? page.href : page.pathname);
}

const LOCATION_CHANGE = "presence:locationchange";
const PATCHED = Symbol.for("presence.historyPatched");

interface EventTargetLike {
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
  dispatchEvent?(ev: Event): boolean;
}

/**
 * Calls `onChange(location)` whenever the URL of `location` changes (after a client-side route
 * change or back/forward). Returns a function that stops watching. Outside a browser it does
 * nothing.
 */
export function watchLocation(location: LocationLike, onChange: (location: LocationLike) => void): () => void {
  const g = globalThis as unknown as { window?: EventTargetLike; navigation?: EventTargetLike; history?: History & { [PATCHED]?: boolean } };
  const win = g.window;
  if (!win || typeof win.addEventListener !== "function") return () => {};
  let last = location.href;
  const check = () => {
    if (location.href === last) return;
    last = location.href;
    onChange(location);
  };
  const nav = g.navigation;
  if (nav && typeof nav.addEventListener === "function") {
    nav.addEventListener("currententrychange", check);
    win.addEventListener("popstate", check);
    return () => {
      nav.removeEventListener("currententrychange", check);
      win.removeEventListener("popstate", check);
    };
  }
  patchHistory(g.history, win);
  win.addEventListener("popstate", check);
  win.addEventListener(LOCATION_CHANGE, check);
  return () => {
    win.removeEventListener("popstate", check);
    win.removeEventListener(LOCATION_CHANGE, check);
  };
}

function patchHistory(history: (History & { [PATCHED]?: boolean }) | undefined, win: EventTargetLike) {
  if (!history || history[PATCHED] || typeof win.dispatchEvent !== "function" || typeof Event !== "function") return;
  history[PATCHED] = true;
  for (const name of ["pushState", "replaceState"] as const) {
    const original = history[name];
    history[name] = function (this: History, ...args: Parameters<History["pushState"]>) {
      const r = original.apply(this, args);
      win.dispatchEvent!(new Event(LOCATION_CHANGE));
      return r;
    };
  }
}
