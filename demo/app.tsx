import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { createPresenceClient, type ConnectionStatus, type PresenceClient, type PresenceUser } from "@presence-platform/client";
import { PagePresence, PagePresenceAvatars, usePagePresence } from "@presence-platform/react";
import { colorOf } from "./colors.js";
import { DocumentArea } from "./document-area.js";
import { bridgeUrl, fetchToken, loadIdentity, newIdentityKey, pageSettings, saveIdentity, tokenSource, TokenError, type Identity } from "./identity.js";

/**
 * The presence demo, served by the server itself on the WebSocket bridge's port (`npm start`,
 * then http://localhost:8081). Join with a name (a demo token from `GET /demo/token`) or as an
 * anonymous guest; the page follows its URL (room `/`) over the bridge of the same origin and shows
 * the avatar stack, "N people viewing", who is typing and the others' live cursors.
 */
const settings = pageSettings();

function App() {
  const [identity, setIdentity] = useState<Identity | null>(loadIdentity);
  const [firstToken, setFirstToken] = useState<string>();
  const [client, setClient] = useState<PresenceClient | null>(null);

  useEffect(() => {
    if (!identity) return;
    const c = createPresenceClient({
      transport: "websocket",
      url: bridgeUrl(),
      token: identity.kind === "named" ? tokenSource(identity, firstToken) : undefined,
      reconnect: settings.reconnectMs === undefined ? undefined : { baseMs: settings.reconnectMs, capMs: Math.max(settings.reconnectMs, 1_000) },
      visibility: { awayAfterMs: settings.awayAfterMs, disconnectAfterMs: settings.disconnectAfterMs },
    });
    setClient(c);
    return () => {
      setClient(null);
      void c.close();
    };
  }, [identity]); // one client per identity (the first token is used once)

  const join = (next: Identity, token?: string) => {
    saveIdentity(next);
    setFirstToken(token);
    setIdentity(next);
  };
  const leave = () => {
    saveIdentity(null);
    setIdentity(null);
  };

  if (!identity || !client) {
    return (
      <Frame>
        <JoinForm onJoin={join} />
      </Frame>
    );
  }
  return <Joined client={client} identity={identity} onLeave={leave} />;
}

function Frame({ here, children }: { here?: ReactNode; children: ReactNode }) {
  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          Presence demo
        </div>
        {here}
      </header>
      <main className="content">{children}</main>
      <footer className="footer">
        Live over the WebSocket bridge of this server (<code>{bridgeUrl()}</code>). The text is not shared: this page shows presence (who
        is here, who is typing, where their pointer is), not collaborative editing.
      </footer>
    </div>
  );
}

/** Joined: the avatar stack and viewer count in the top bar, the document, and who is here. */
function Joined({ client, identity, onLeave }: { client: PresenceClient; identity: Identity; onLeave: () => void }) {
  const presence = usePagePresence(client, { followPage: true });
  const named = identity.kind === "named";
  const here = (
    <div className="here">
      <div id="avatars">
        <PagePresenceAvatars presence={presence} maxDisplay={5} size={34} />
      </div>
      <div id="count" className="count">
        <PagePresence presence={presence} />
      </div>
      <StatusPill status={presence.status} />
    </div>
  );
  return (
    <Frame here={here}>
      {presence.status === "disconnected" ? (
        <p className="error banner" role="alert">
          The server refused this connection (it may have restarted with demo tokens turned off). Leave and join again.
        </p>
      ) : null}
      <div className="layout">
        <DocumentArea room={presence.room} canShare={named} />
        <aside className="card side">
          <div className="me">
            <span>
              {named ? (
                <>
                  You are <strong id="me">{identity.name}</strong>
                </>
              ) : (
                <strong id="me">Viewing as a guest</strong>
              )}
            </span>
            <button type="button" className="link" onClick={onLeave}>
              Leave
            </button>
          </div>
          <h3>Here now</h3>
          <ul className="people" id="people">
            {presence.users.map((u) => (
              <Person key={u.userId} user={u} />
            ))}
            {presence.anonymousCount > 0 ? (
              <li className="person guests">
                {presence.anonymousCount} {presence.anonymousCount === 1 ? "guest" : "guests"}
              </li>
            ) : null}
          </ul>
          <p className="tip">Open this page in a second window (a private one is a different person) to see presence from both sides.</p>
        </aside>
      </div>
    </Frame>
  );
}

function Person({ user }: { user: PresenceUser }) {
  const tabs = user.connections.length;
  return (
    <li className="person" data-user-id={user.userId} data-activity={user.activity}>
      <span className="dot" style={{ background: colorOf(user.userId) }} />
      <span className="person-name">
        {user.name || user.userId}
        {user.isSelf ? <span className="muted"> (you)</span> : null}
      </span>
      <span className={`activity ${user.activity}`}>{user.activity === "away" ? "away" : tabs > 1 ? `${tabs} tabs` : "active"}</span>
    </li>
  );
}

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  idle: "idle",
  connecting: "connecting…",
  connected: "live",
  reconnecting: "reconnecting…",
  paused: "paused (tab hidden)",
  disconnected: "disconnected",
  closed: "closed",
};

function StatusPill({ status }: { status: ConnectionStatus }) {
  return (
    <span className={`status status-${status}`} id="status" data-status={status}>
      {STATUS_TEXT[status]}
    </span>
  );
}

function JoinForm({ onJoin }: { onJoin: (identity: Identity, token?: string) => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const key = newIdentityKey();
      const t = await fetchToken(name, key);
      onJoin({ kind: "named", name: t.name, key }, t.token);
    } catch (err) {
      setError(err instanceof TokenError ? err.message : "Could not reach the server.");
      setBusy(false);
    }
  };

  return (
    <section className="card join">
      <h1>Who is here, live</h1>
      <p className="lead">Join this page to see the others viewing it, who is typing, and their cursors.</p>
      <form onSubmit={submit} className="join-form">
        <label htmlFor="name">Join as</label>
        <input id="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="Your name, e.g. Ana" maxLength={40} autoComplete="nickname" autoFocus />
        <button type="submit" className="primary" disabled={busy || name.trim() === ""}>
          Join
        </button>
      </form>
      <button type="button" className="link" id="anonymous" onClick={() => onJoin({ kind: "anonymous" })}>
        or view anonymously
      </button>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
    </section>
  );
}

createRoot(document.getElementById("app")!).render(<App />);
