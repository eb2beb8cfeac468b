import { createElement, useState, type CSSProperties, type ReactElement } from "react";
import type { PresenceClient, PresenceUser } from "@presence-platform/client";
import { usePagePresence, type PagePresenceState, type UsePagePresenceOptions } from "./use-page-presence.js";

/**
 * Ready-made page-presence components (plain `createElement`, no JSX setup needed):
 *
 * - `PagePresence`: "3 people viewing" / "You're the only one here" (counts include yourself and
 *   guests);
 * - `PagePresenceAvatars`: an avatar stack of the listed users (`maxDisplay`, then "+N"), avatar
 *   images with an initials fallback, and guests as a count ("+ 3 guests").
 *
 * Either pass `presence` (the result of `usePagePresence`, shared by several components), or a
 * `client` with `room` / `followPage` and the component joins by itself. Class names
 * (`presence-count`, `presence-avatars`, `presence-avatar`, `presence-more`, `presence-guests`) are
 * there for styling; the inline styles are a minimal default.
 */
export type PresenceSource = { presence: PagePresenceState } | ({ client: PresenceClient | null | undefined } & UsePagePresenceOptions);

export type PagePresenceProps = PresenceSource & {
  className?: string | undefined;
  /** Custom wording; `viewers` counts yourself and guests. */
  format?: ((viewers: number) => string) | undefined;
};

/** The default wording of the viewer count. */
export function viewersLabel(viewers: number): string {
  return viewers <= 1 ? "You're the only one here" : `${viewers} people viewing`;
}

export function PagePresence(props: PagePresenceProps): ReactElement | null {
  if ("presence" in props) return renderCount(props.presence, props);
  return createElement(JoinedPagePresence, props);
}

function JoinedPagePresence(props: Extract<PagePresenceProps, { client: unknown }>): ReactElement | null {
  return renderCount(usePagePresence(props.client, props), props);
}

function renderCount(p: PagePresenceState, props: Pick<PagePresenceProps, "className" | "format">): ReactElement | null {
  if (!p.view) return null;
  return createElement("span", { className: props.className ?? "presence-count", "aria-live": "polite" }, (props.format ?? viewersLabel)(p.viewerCount));
}

export type PagePresenceAvatarsProps = PresenceSource & {
  /** Avatars shown before "+N". Default 5. */
  maxDisplay?: number | undefined;
  /** Avatar diameter in px. Default 32. */
  size?: number | undefined;
  /** Show the guest count. Default true. */
  showGuests?: boolean | undefined;
  className?: string | undefined;
};

export function PagePresenceAvatars(props: PagePresenceAvatarsProps): ReactElement | null {
  if ("presence" in props) return renderAvatars(props.presence, props);
  return createElement(JoinedPagePresenceAvatars, props);
}

function JoinedPagePresenceAvatars(props: Extract<PagePresenceAvatarsProps, { client: unknown }>): ReactElement | null {
  return renderAvatars(usePagePresence(props.client, props), props);
}

function renderAvatars(p: PagePresenceState, props: Pick<PagePresenceAvatarsProps, "maxDisplay" | "size" | "showGuests" | "className">): ReactElement | null {
  if (!p.view) return null;
  const size = props.size ?? 32;
  const maxDisplay = Math.max(0, props.maxDisplay ?? 5);
  const shown = p.users.slice(0, maxDisplay);
  // Large rooms list no members: everyone not shown is in "+N".
  const hidden = Math.max(p.userCount, p.users.length) - shown.length;
  const children: ReactElement[] = shown.map((u) => createElement(Avatar, { key: u.userId, user: u, size }));
  if (hidden > 0) {
    children.push(createElement("span", { key: "more", className: "presence-more", style: bubble(size, "#e5e7eb", "#374151"), title: `${hidden} more` }, `+${hidden}`));
  }
  if ((props.showGuests ?? true) && p.anonymousCount > 0) {
    const n = p.anonymousCount;
    children.push(createElement("span", { key: "guests", className: "presence-guests", style: { marginLeft: 8, fontSize: 12, color: "#6b7280" } }, `+ ${n} ${n === 1 ? "guest" : "guests"}`));
  }
  return createElement("div", { className: props.className ?? "presence-avatars", style: { display: "flex", alignItems: "center" } }, ...children);
}

/** One avatar: the image, or the user's initials when there is none or it fails to load. */
export function Avatar({ user, size = 32 }: { user: PresenceUser; size?: number | undefined }): ReactElement {
  const [failed, setFailed] = useState(false);
  const label = user.isSelf ? `${user.name || user.userId} (you)` : user.name || user.userId;
  const common = { className: "presence-avatar", title: label, "data-user-id": user.userId, "data-activity": user.activity };
  const dim: CSSProperties = { opacity: user.activity === "away" ? 0.5 : 1 };
  if (user.avatarUrl && !failed) {
    return createElement("img", {
      ...common,
      src: user.avatarUrl,
      alt: label,
      width: size,
      height: size,
      style: { ...bubble(size, "#e5e7eb", "#111827"), ...dim, objectFit: "cover" },
      onError: () => setFailed(true),
    });
  }
  return createElement("span", { ...common, role: "img", "aria-label": label, style: { ...bubble(size, colorOf(user.userId), "#ffffff"), ...dim } }, initialsOf(user.name || user.userId));
}

/** "Ana Lima" → "AL", "bob" → "B". */
export function initialsOf(name: string): string {
  const words = name.trim().split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]!, words.at(-1)!] : words;
  return letters.map((w) => Array.from(w)[0]!.toUpperCase()).join("");
}

const PALETTE = ["#ef4444", "#f97316", "#eab308", "#22c55e", "#14b8a6", "#3b82f6", "#8b5cf6", "#ec4899"];

/** A stable color per user id. */
function colorOf(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length]!;
}

function bubble(size: number, background: string, color: string): CSSProperties {
  return {
    width: size,
    height: size,
    borderRadius: "50%",
    marginLeft: -size / 4,
    border: "2px solid #ffffff",
    background,
    color,
    display: "inline-flex",
    alignItems: "center",
    justifyContent: "center",
    fontSize: Math.round(size * 0.4),
    fontWeight: 600,
    boxSizing: "border-box",
  };
}
