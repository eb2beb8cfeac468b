import { PresenceClientError } from "@presence-platform/client";

/**
 * Who this tab is in the demo, and the settings it takes from the page URL.
 *
 * A named visitor gets HS256 tokens from the server's demo endpoint (`GET demo/token?name=…&key=…`,
 * PRESENCE_DEMO, development mode only). The user id (`sub`) is derived from a random key this tab
 * makes once and sends with every request, so the tab stays the same user across reconnects and
 * server restarts (a restarted server has a new demo secret: a fresh token is fetched at every
 * connection), and nobody without the key can get a token for that id. The choice is kept in
 * sessionStorage: a reload rejoins as the same person, another tab or window may be someone else.
 */

export type Identity = { kind: "named"; name: string; key: string } | { kind: "anonymous" };

/** A new random key (128 bits, base64url) for a named identity. */
export function newIdentityKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export interface DemoToken {
  token: string;
  sub: string;
  name: string;
  expiresAtMs: number;
}

/** The endpoint refused (its message is meant for the visitor). */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function fetchToken(name: string, key: string): Promise<DemoToken> {
  const query = new URLSearchParams({ name, key });
  const res = await fetch(new URL(`demo/token?${query}`, location.href), { cache: "no-store" });
  const body = (await res.json().catch(() => ({}))) as Partial<DemoToken> & { error?: string };
  if (!res.ok || typeof body.token !== "string") throw new TokenError(body.error ?? `token request failed (HTTP ${res.status})`, res.status);
  return body as DemoToken;
}

/**
 * A token source for the SDK: `first` once, then a fresh token for each (re)connection. A refusal
 * (the endpoint is off, or the stored name is refused) stops the reconnect loop; a network error
 * or a server that is restarting is retried by the SDK.
 */
export function tokenSource(identity: Extract<Identity, { kind: "named" }>, first?: string): () => Promise<string> {
  let unused = first;
  return async () => {
    if (unused) {
      const t = unused;
      unused = undefined;
      return t;
    }
    try {
      return (await fetchToken(identity.name, identity.key)).token;
    } catch (err) {
      if (err instanceof TokenError && err.status >= 400 && err.status < 500) throw new PresenceClientError("unauthenticated", err.message, "UNAUTHENTICATED");
      throw err;
    }
  };
}

const KEY = "presence-demo.identity";

export function loadIdentity(): Identity | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    const v = raw ? (JSON.parse(raw) as Identity) : null;
    if (v?.kind === "anonymous") return v;
    if (v?.kind === "named" && typeof v.name === "string" && typeof v.key === "string") return v;
  } catch {
    // storage disabled or garbage: ask again
  }
  return null;
}

export function saveIdentity(identity: Identity | null): void {
  try {
    if (identity) sessionStorage.setItem(KEY, JSON.stringify(identity));
    else sessionStorage.removeItem(KEY);
  } catch {
    // storage disabled: the choice lasts until a reload
  }
}

/** Timings from the query string (tests and curious visitors shrink them): `?awayAfterMs=300&disconnectAfterMs=1500&reconnectMs=100`. */
export interface PageSettings {
  awayAfterMs?: number;
  disconnectAfterMs?: number;
  reconnectMs?: number;
}

export function pageSettings(search = location.search): PageSettings {
  const q = new URLSearchParams(search);
  const num = (k: string) => {
    const v = Number(q.get(k) ?? "");
    return q.has(k) && Number.isFinite(v) && v >= 0 ? v : undefined;
  };
  return { awayAfterMs: num("awayAfterMs"), disconnectAfterMs: num("disconnectAfterMs"), reconnectMs: num("reconnectMs") };
}

/** The bridge of this page's origin: `ws(s)://<host>/ws` (relative, so a path prefix in front still works). */
export function bridgeUrl(): string {
  const url = new URL("ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  return url.href;
}
