import type { Client } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { PresenceService, WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import type { RoomView as PbRoomView } from "../../gen/presence/v1/types_pb.js";
import type { RoomView } from "../../src/core/presence-event.js";

/**
 * The watcher-side recorder of reliability.md §4: consumes WatchPresence messages and keeps the
 * view a careful client would keep, and every rule it had to break to do so.
 *
 * - A snapshot (pages `first` … `last`, all with one `(epoch, version)`) replaces the view.
 * - An event applies only as `version = last + 1` in the same epoch. Anything else is a violation:
 *   a gap, a duplicate (version already applied), an epoch change without a snapshot, an event before
 *   any snapshot, a join of a connection already present, a leave or update of one that is not, and
 *   counts that disagree with the view the events built.
 * - `detail = COUNTS` watchers receive only `counts` messages; their versions strictly increase
 *   within an epoch (they are coalesced, so they may skip).
 *
 * The view is exposed as a plain comparable value (user id → sorted connection ids, counts, epoch,
 * version) so tests compare it with `GetPresence` or `app.store.getView` through `toComparable*`.
 */

export interface ComparableView {
  epoch: string;
  version: number;
  /** user id → connection ids, sorted. */
  users: Record<string, string[]>;
  counts: { users: number; connections: number; anonymous: number };
}

export interface RecordedMessage {
  kind: "snapshot" | "event" | "counts" | "keepalive" | "typing" | "cursors" | "empty";
  receivedAtMs: number;
  epoch?: string;
  version?: number;
  /** For events: joined / left / updated / anonymous. */
  eventKind?: string;
  connectionId?: string;
  /** For events: the server's commit time; `receivedAtMs - timeMs` is the delivery delay. */
  timeMs?: number;
  /** For `left` events: the LeaveReason enum value. */
  reason?: number;
  /** For snapshot pages. */
  first?: boolean;
  last?: boolean;
}

export interface WatchRecorderOptions {
  /** Start from a view kept by an earlier watch (to record a resume with `resume_from`). */
  from?: ComparableView;
  /** The watch is `detail = COUNTS`. */
  counts?: boolean;
}

export interface WatchRecorder {
  /** Applies one received message. */
  apply(message: WatchPresenceResponse, receivedAtMs?: number): void;
  /** The current view; null before the first complete snapshot (or `from`). */
  view(): ComparableView | null;
  /** Position of the last applied snapshot, event or counts message. */
  position(): { epoch: string; version: number } | null;
  readonly messages: readonly RecordedMessage[];
  readonly violations: readonly string[];
  /** Complete snapshots received (one per `last` page). */
  snapshots(): number;
  /** Membership events applied. */
  events(): number;
  /** Joins and leaves seen per connection id (across snapshots). */
  joinsOf(connectionId: string): number;
  leavesOf(connectionId: string): number;
  /** Every connection id that had at least one join or leave. */
  connectionIds(): string[];
  /** Delivery delays (received − commit time, ms) of the events applied. */
  delaysMs(): number[];
}

export function createWatchRecorder(options: WatchRecorderOptions = {}): WatchRecorder {
  const messages: RecordedMessage[] = [];
  const violations: string[] = [];
  let view: { epoch: string; version: number; users: Map<string, Set<string>>; anonConnections: number; counts: ComparableView["counts"] } | null =
    options.from ? fromComparable(options.from) : null;
  let pending: { epoch: string; version: number; pages: PbRoomView[] } | null = null;
  let snapshotCount = 0;
  let eventCount = 0;
  const joins = new Map<string, number>();
  const leaves = new Map<string, number>();
  const delays: number[] = [];
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const violate = (what: string) => violations.push(what);

  function ownerOf(connectionId: string): string | undefined {
    for (const [u, conns] of view?.users ?? []) if (conns.has(connectionId)) return u;
    return undefined;
  }

  function applySnapshot(page: { view?: PbRoomView; first: boolean; last: boolean }, at: number) {
    const v = page.view;
    if (!v) return violate("snapshot page without a view");
    const version = Number(v.version);
    messages.push({ kind: "snapshot", receivedAtMs: at, epoch: v.epoch, version, first: page.first, last: page.last });
    if (options.counts) violate("snapshot on a counts watcher");
    if (page.first) {
      if (pending) violate(`snapshot restarted before its last page (v${pending.version})`);
      pending = { epoch: v.epoch, version, pages: [] };
    } else if (!pending) {
      return violate(`snapshot page without a first page (v${version})`);
    } else if (pending.epoch !== v.epoch || pending.version !== version) {
      violate(`snapshot pages disagree: ${pending.epoch}/${pending.version} then ${v.epoch}/${version}`);
    }
    pending!.pages.push(v);
    if (!page.last) return;
    const done = pending!;
    pending = null;
    snapshotCount++;
    const users = new Map<string, Set<string>>();
    for (const p of done.pages) {
      for (const u of p.users) {
        const id = u.user?.userId ?? "";
        if (users.has(id)) violate(`snapshot lists user ${id} twice`);
        users.set(id, new Set(u.connections.map((c) => c.connectionId)));
      }
    }
    const first = done.pages[0]!;
    const counts = countsOf(first.counts);
    const listed = [...users.values()].reduce((n, s) => n + s.size, 0);
    if (counts.users !== users.size) violate(`snapshot v${done.version}: ${users.size} users listed, counts say ${counts.users}`);
    view = { epoch: done.epoch, version: done.version, users, anonConnections: counts.connections - listed, counts };
  }

  function applyEvent(ev: NonNullable<Extract<WatchPresenceResponse["message"], { case: "event" }>["value"]>, at: number) {
    const version = Number(ev.version);
    const rec: RecordedMessage = { kind: "event", receivedAtMs: at, epoch: ev.epoch, version, eventKind: ev.kind.case ?? "", timeMs: Number(ev.timeMs) };
    messages.push(rec);
    if (options.counts) return violate(`event v${version} on a counts watcher`);
    if (pending) return violate(`event v${version} between snapshot pages`);
    if (!view) return violate(`event v${version} before any snapshot`);
    if (ev.epoch !== view.epoch) return violate(`event v${version}: epoch ${ev.epoch} without a snapshot (was ${view.epoch})`);
    if (version <= view.version) return violate(`duplicate event v${version} (at v${view.version})`);
    if (version !== view.version + 1) return violate(`gap: event v${version} after v${view.version}`);
    view.version = version;
    eventCount++;
    delays.push(at - Number(ev.timeMs));
    switch (ev.kind.case) {
      case "joined": {
        const userId = ev.kind.value.user?.userId ?? "";
        const cid = ev.kind.value.connection?.connectionId ?? "";
        rec.connectionId = cid;
        bump(joins, cid);
        if (ownerOf(cid) !== undefined) violate(`v${version}: join of ${cid}, already present`);
        const had = view.users.has(userId);
        if (ev.kind.value.firstOfUser === had) violate(`v${version}: join of ${cid} with first_of_user=${ev.kind.value.firstOfUser}`);
        let set = view.users.get(userId);
        if (!set) view.users.set(userId, (set = new Set()));
        set.add(cid);
        break;
      }
      case "left": {
        const { userId, connectionId: cid, lastOfUser, reason } = ev.kind.value;
        rec.connectionId = cid;
        rec.reason = reason;
        bump(leaves, cid);
        const set = view.users.get(userId);
        if (!set?.has(cid)) {
          violate(`v${version}: leave of ${cid}, not present`);
          break;
        }
        set.delete(cid);
        if (set.size === 0) view.users.delete(userId);
        if (lastOfUser !== (set.size === 0)) violate(`v${version}: leave of ${cid} with last_of_user=${lastOfUser}`);
        break;
      }
      case "updated": {
        const cid = ev.kind.value.connection?.connectionId ?? "";
        rec.connectionId = cid;
        if (ownerOf(cid) === undefined) violate(`v${version}: update of ${cid}, not present`);
        break;
      }
      case "anonymous":
        view.anonConnections += ev.kind.value.connectionsDelta;
        view.counts = { ...view.counts, anonymous: view.counts.anonymous + ev.kind.value.viewersDelta };
        break;
      default:
        violate(`v${version}: event without a kind`);
    }
    const listed = [...view.users.values()].reduce((n, s) => n + s.size, 0);
    const derived = { users: view.users.size, connections: listed + view.anonConnections, anonymous: view.counts.anonymous };
    const sent = countsOf(ev.counts);
    if (derived.users !== sent.users || derived.connections !== sent.connections || derived.anonymous !== sent.anonymous) {
      violate(`v${version}: counts ${JSON.stringify(sent)} but the view gives ${JSON.stringify(derived)}`);
    }
    view.counts = sent;
  }

  function applyCounts(c: NonNullable<Extract<WatchPresenceResponse["message"], { case: "counts" }>["value"]>, at: number) {
    const version = Number(c.version);
    messages.push({ kind: "counts", receivedAtMs: at, epoch: c.epoch, version });
    if (!options.counts) violate(`counts message v${version} on a full watcher`);
    if (view && view.epoch === c.epoch && version <= view.version) {
      violate(`counts v${version} not after v${view.version}`);
    }
    view = { epoch: c.epoch, version, users: new Map(), anonConnections: 0, counts: countsOf(c.counts) };
  }

  return {
    apply(message, receivedAtMs = Date.now()) {
      const m = message.message;
      switch (m.case) {
        case "snapshot":
          return applySnapshot(m.value, receivedAtMs);
        case "event":
          return applyEvent(m.value, receivedAtMs);
        case "counts":
          return applyCounts(m.value, receivedAtMs);
        case "keepalive":
          messages.push({ kind: m.case, receivedAtMs });
          return;
        case "typing":
        case "cursors":
          messages.push({ kind: m.case, receivedAtMs });
          if (options.counts) violate(`${m.case} on a counts watcher`);
          return;
        default:
          messages.push({ kind: "empty", receivedAtMs });
          violate("empty WatchPresenceResponse");
      }
    },
    view: () => (view ? toComparableFrom(view) : null),
    position: () => (view ? { epoch: view.epoch, version: view.version } : null),
    messages,
    violations,
    snapshots: () => snapshotCount,
    events: () => eventCount,
    joinsOf: (cid) => joins.get(cid) ?? 0,
    leavesOf: (cid) => leaves.get(cid) ?? 0,
    connectionIds: () => [...new Set([...joins.keys(), ...leaves.keys()])],
    delaysMs: () => [...delays],
  };
}

function countsOf(c: { users: number; connections: number; anonymous: number } | undefined): ComparableView["counts"] {
  return { users: c?.users ?? 0, connections: c?.connections ?? 0, anonymous: c?.anonymous ?? 0 };
}

function toComparableFrom(v: { epoch: string; version: number; users: Map<string, Set<string>>; counts: ComparableView["counts"] }): ComparableView {
  const users: Record<string, string[]> = {};
  for (const id of [...v.users.keys()].sort()) users[id] = [...v.users.get(id)!].sort();
  return { epoch: v.epoch, version: v.version, users, counts: { ...v.counts } };
}

function fromComparable(c: ComparableView) {
  const users = new Map(Object.entries(c.users).map(([u, conns]) => [u, new Set(conns)]));
  const listed = [...users.values()].reduce((n, s) => n + s.size, 0);
  return { epoch: c.epoch, version: c.version, users, anonConnections: c.counts.connections - listed, counts: { ...c.counts } };
}

/** The comparable form of a protobuf RoomView (a `GetPresence` answer). */
export function toComparable(v: PbRoomView): ComparableView {
  const users: Record<string, string[]> = {};
  for (const u of [...v.users].sort((a, b) => cmp(a.user?.userId ?? "", b.user?.userId ?? ""))) {
    users[u.user?.userId ?? ""] = u.connections.map((c) => c.connectionId).sort();
  }
  return { epoch: v.epoch, version: Number(v.version), users, counts: countsOf(v.counts) };
}

/** The comparable form of a domain RoomView (`app.store.getView`). */
export function toComparableDomain(v: RoomView): ComparableView {
  const users: Record<string, string[]> = {};
  for (const u of [...v.users].sort((a, b) => cmp(a.user.userId, b.user.userId))) {
    users[u.user.userId] = u.connections.map((c) => c.connectionId).sort();
  }
  return { epoch: v.epoch, version: v.version, users, counts: { ...v.counts } };
}

/** Only the counts and position of a comparable view (what a counts watcher can know). */
export function countsOnly(v: ComparableView): Pick<ComparableView, "epoch" | "version" | "counts"> {
  return { epoch: v.epoch, version: v.version, counts: v.counts };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A watch being recorded: the recorder, how the stream ended, and a way to wait for a state. */
export interface RecordedWatch {
  recorder: WatchRecorder;
  /** Resolves when the stream ends: undefined for OK, the ConnectError otherwise (never rejects). */
  ended: Promise<ConnectError | undefined>;
  /** True once the stream has ended. */
  isEnded(): boolean;
  /** Cancels the stream (client side). */
  cancel(): void;
  /** Resolves when `predicate(recorder)` holds; rejects after `timeoutMs` with `what` in the message. */
  until(predicate: (r: WatchRecorder) => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

/**
 * Opens `client.watchPresence(request)` and feeds every message to a new recorder. `until` polls
 * after each message and on a short interval, so it also sees the state reached before it was called.
 */
export function recordWatch(
  client: Pick<Client<typeof PresenceService>, "watchPresence">,
  request: Parameters<Client<typeof PresenceService>["watchPresence"]>[0],
  options: WatchRecorderOptions & { headers?: Record<string, string> } = {},
): RecordedWatch {
  const recorder = createWatchRecorder(options);
  const ac = new AbortController();
  let done = false;
  const ended = (async () => {
    try {
      for await (const m of client.watchPresence(request, { signal: ac.signal, headers: options.headers })) recorder.apply(m);
      return undefined;
    } catch (e) {
      return ConnectError.from(e);
    } finally {
      done = true;
    }
  })();
  return {
    recorder,
    ended,
    isEnded: () => done,
    cancel: () => ac.abort(),
    until: (predicate, timeoutMs = 5_000, what = "condition") => waitFor(() => predicate(recorder), timeoutMs, what),
  };
}

/** Polls `check` every 5 ms until it holds; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
