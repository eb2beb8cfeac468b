import { createElement, useEffect, useState, type CSSProperties, type ReactElement } from "react";
import { formatLastSeen, nextLastSeenChangeMs, type LastSeenOptions, type UserState } from "@presence-platform/client";

/**
 * A user's status for people: `StatusDot` (green online, amber away, grey offline; its title and
 * aria-label say "online", "away" or "last seen 5 min ago"), and `LastSeen` (that text, re-rendered
 * exactly when the wording changes: every minute for the first hour, then hourly, then daily).
 * Class names `presence-status-dot` and `presence-status-dot--online|away|offline` for styling.
 */
export interface StatusDotProps {
  status: { state: UserState; lastSeenMs: number; customStatus?: string | undefined } | undefined;
  /** Diameter in px. Default 10. */
  size?: number | undefined;
  className?: string | undefined;
  /** Overrides the default colours. */
  colors?: Partial<Record<UserState, string>> | undefined;
  lastSeen?: LastSeenOptions | undefined;
}

const COLORS: Record<UserState, string> = { online: "#2e9d4e", away: "#e0a100", offline: "#9aa0a6" };

/** Re-renders when the relative wording of `lastSeenMs` changes. */
function useNow(lastSeenMs: number, enabled: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!enabled) return;
    const t = setTimeout(() => setNow(Date.now()), nextLastSeenChangeMs(lastSeenMs, Date.now()) + 50);
    return () => clearTimeout(t);
  }, [lastSeenMs, enabled, now]);
  return now;
}

export function StatusDot(props: StatusDotProps): ReactElement {
  const state = props.status?.state ?? "offline";
  const lastSeenMs = props.status?.lastSeenMs ?? 0;
  const now = useNow(lastSeenMs, state === "offline" && lastSeenMs > 0);
  const label = props.status ? formatLastSeen({ state, lastSeenMs }, now, props.lastSeen) : "offline";
  const title = props.status?.customStatus ? `${label} — ${props.status.customStatus}` : label;
  const size = props.size ?? 10;
  const style: CSSProperties = {
    display: "inline-block",
    width: size,
    height: size,
    borderRadius: "50%",
    background: props.colors?.[state] ?? COLORS[state],
    boxShadow: "0 0 0 2px #fff",
  };
  return createElement("span", {
    className: `${props.className ?? "presence-status-dot"} presence-status-dot--${state}`,
    role: "img",
    "aria-label": title,
    title,
    "data-state": state,
    style,
  });
}

export function LastSeen(props: { status: { state: UserState; lastSeenMs: number } | undefined; className?: string | undefined; options?: LastSeenOptions | undefined }): ReactElement {
  const state = props.status?.state ?? "offline";
  const lastSeenMs = props.status?.lastSeenMs ?? 0;
  const now = useNow(lastSeenMs, state === "offline" && lastSeenMs > 0);
  return createElement("span", { className: props.className ?? "presence-last-seen" }, props.status ? formatLastSeen({ state, lastSeenMs }, now, props.options) : "offline");
}
