import { createEmitter, type Emitter } from "./emitter.js";
import { deriveOthers, type Derived, type Other } from "./others.js";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { RoomState } from "./room-state.js";
import type {
  BroadcastEvent,
  BroadcastResult,
  ConnectionEvents,
  ConnectionStatus,
  CursorPosition,
  PresenceCursor,
  PresenceEvents,
  PresenceUser,
  RoomEvents,
  RoomViewState,
  SelfInfo,
  TypingUser,
} from "./types.js";

/**
 * What an application holds for a joined room: the live view (always complete and consistent, or
 * null before the first one), this client's typing and cursor, and the room's events. Several
 * handles may hold the same room (two components on one page); the room is left when the last
 * one calls `leave()`.
 */
export interface RoomHandle {
  /** The room's name (changes when the handle navigates). */
  readonly room: string;
  /** The complete current view, or null until the first snapshot. */
  readonly view: RoomViewState | null;
  /** Listed users, yourself included. */
  readonly users: PresenceUser[];
  /** Distinct users (yourself included). */
  readonly userCount: number;
  /** Distinct anonymous viewers ("+ 3 guests"). */
  readonly anonymousCount: number;
  readonly connectionCount: number;
  /** Cursors of the others (your own is left out). */
  readonly cursors: PresenceCursor[];
  /** This client in the room, once it has a session. */
  readonly self: SelfInfo | null;
  /** True while the room is joined and watched on a live connection. */
  readonly connected: boolean;
  /** True when the user has at least one connection in the room. */
  isUserHere(userId: string): boolean;
  /** Your typing indicator, and who else is typing. */
  readonly typing: {
    /** Call on each keystroke; stops by itself after the inactivity delay. */
    start(): void;
    stop(): void;
    /** True while you are marked as typing. */
    readonly active: boolean;
    /** The others typing now. */
    readonly users: TypingUser[];
  };
  /** Your cursor: `update` as often as you like, it is sent at most once per animation frame. */
  readonly cursor: { update(position: CursorPosition): void };
  /** Resolves with the first complete view; rejects if the room cannot be joined or is left first. */
  readonly ready: Promise<RoomViewState>;
  /** Listens to this room's events and the client's connection events; returns an unsubscribe. */
  on<K extends keyof PresenceEvents>(event: K, fn: (payload: PresenceEvents[K]) => void): () => void;
  /** Moves this handle to another room (one Navigate call when no other handle holds the old room). */
  navigate(roomOrUrl: string, metadata?: Record<string, string>): Promise<void>;
  /** Changes this connection's metadata in the room (one `update` event). */
  setMetadata(metadata: Record<string, string>): Promise<void>;
  /** Your typed presence in this room, as you set it (applied locally before the server confirms). */
  readonly presence: JsonObject;
  /**
   * Merges top-level keys into your presence (`{ replace: true }`: replaces it). Applied locally
   * at once (`myPresence` event); sent at most once per 100 ms per room, later calls merged.
   */
  setPresence(partial: JsonObject, options?: { replace?: boolean | undefined }): void;
  /** The other connections (user, presence, cursor, activity); the same array until one changes. */
  readonly others: readonly Other[];
  /** Your own connection as the room shows it (null until the first view). */
  readonly selfMember: Other | null;
  /**
   * Sends a custom ephemeral event to everyone watching the room, on every node (a reaction, "page
   * saved"): `type` is 1..64 characters of `A-Za-z0-9_.:-`, `payload` any JSON value of at most
   * `broadcastMaxBytes` serialized (the server's PRESENCE_BROADCAST_MAX_BYTES, 4 KiB by default).
   * Needs the room joined on a live connection (else `unavailable`; never queued) and the `join`
   * right on it (anonymous viewers cannot broadcast); the server allows
   * PRESENCE_BROADCAST_RATE_PER_SEC per session (10/s, burst 20; above: `RATE_LIMITED`). Your own
   * broadcasts come back to you too, marked `isSelf`.
   */
  broadcast(type: string, payload?: JsonValue): Promise<BroadcastResult>;
  /**
   * Listens to the room's broadcasts of one `type` (`"*"`: every type); your own are left out
   * unless `includeSelf`. Returns an unsubscribe. (`on("broadcast", fn)` receives them all.)
   */
  onBroadcast<T extends JsonValue = JsonValue>(type: string, fn: (event: BroadcastEvent<T>) => void, options?: { includeSelf?: boolean | undefined }): () => void;
  /** Leaves the room (when no other handle holds it). Idempotent. */
  leave(): Promise<void>;
}

/** What a handle needs from its client. */
export interface HandleHost {
  status(): ConnectionStatus;
  selfInfo(state: RoomState): SelfInfo | null;
  onConnection<K extends keyof ConnectionEvents>(event: K, fn: (payload: ConnectionEvents[K]) => void): () => void;
  leave(handle: RoomHandleImpl): Promise<void>;
  navigate(handle: RoomHandleImpl, room: string, metadata?: Record<string, string>): Promise<void>;
  setMetadata(handle: RoomHandleImpl, metadata: Record<string, string>): Promise<void>;
  broadcast(handle: RoomHandleImpl, type: string, payload: JsonValue): Promise<BroadcastResult>;
}

const CONNECTION_EVENTS = new Set<keyof PresenceEvents>(["status", "connected", "disconnected", "activity", "error"]);
const EMPTY: never[] = [];

export class RoomHandleImpl implements RoomHandle {
  readonly #host: HandleHost;
  readonly #emitter: Emitter<RoomEvents> = createEmitter<RoomEvents>();
  readonly #connectionSubs = new Set<() => void>();
  #state: RoomState;
  #left = false;
  /** Called once when the handle leaves (e.g. stops following the page). */
  onLeave: (() => void) | null = null;

  constructor(host: HandleHost, state: RoomState) {
    this.#host = host;
    this.#state = state;
    state.handles.add(this);
  }

  /** @private The room state this handle shows. */
  get state(): RoomState {
    return this.#state;
  }

  /** @private Points the handle at another room state (navigate). */
  attach(state: RoomState): void {
    this.#state.handles.delete(this);
    this.#state = state;
    state.handles.add(this);
  }

  /** @private Delivers a room event to this handle's listeners. */
  deliver<K extends keyof RoomEvents>(event: K, payload: RoomEvents[K]): void {
    this.#emitter.emit(event, payload);
  }

  get left(): boolean {
    return this.#left;
  }

  get room() {
    return this.#state.room;
  }
  get view() {
    return this.#state.view();
  }
  get users() {
    return this.view?.users ?? EMPTY;
  }
  get userCount() {
    return this.view?.userCount ?? 0;
  }
  get anonymousCount() {
    return this.view?.anonymousCount ?? 0;
  }
  get connectionCount() {
    return this.view?.connectionCount ?? 0;
  }
  /** Derived lists, recomputed only when the view changes (stable for React's useSyncExternalStore). */
  #derived: { view: RoomViewState | null; cursors: PresenceCursor[]; typing: TypingUser[] } = { view: null, cursors: EMPTY, typing: EMPTY };
  #derive() {
    const view = this.view;
    if (this.#derived.view !== view) {
      this.#derived = {
        view,
        cursors: view?.cursors.filter((c) => !c.isSelf) ?? EMPTY,
        typing: view?.typing.filter((t) => !t.isSelf) ?? EMPTY,
      };
    }
    return this.#derived;
  }

  get cursors() {
    return this.#derive().cursors;
  }
  #others: Derived | null = null;
  #othersOf(): Derived {
    return (this.#others = deriveOthers(this.view, this.#others));
  }
  get others() {
    return this.#othersOf().others;
  }
  get selfMember() {
    return this.#othersOf().self;
  }
  get presence() {
    return this.#state.presence;
  }
  setPresence(partial: JsonObject, options: { replace?: boolean | undefined } = {}): void {
    if (!this.#left) this.#state.setPresence(partial, options.replace ?? false);
  }
  get self() {
    return this.#host.selfInfo(this.#state);
  }
  get connected() {
    return !this.#left && this.#host.status() === "connected" && this.#state.watching;
  }
  get ready() {
    return this.#state.ready;
  }

  isUserHere(userId: string): boolean {
    return this.users.some((u) => u.userId === userId);
  }

  readonly typing = (() => {
    const handle = this;
    return {
      start: () => {
        if (!handle.#left) handle.#state.typing.start();
      },
      stop: () => handle.#state.typing.stop(),
      get active() {
        return handle.#state.typing.active;
      },
      get users() {
        return handle.#derive().typing;
      },
    };
  })();

  readonly cursor = {
    update: (position: CursorPosition) => {
      if (!this.#left) this.#state.cursor.update(position);
    },
  };

  on<K extends keyof PresenceEvents>(event: K, fn: (payload: PresenceEvents[K]) => void): () => void {
    if (CONNECTION_EVENTS.has(event)) {
      const off = this.#host.onConnection(event as keyof ConnectionEvents, fn as (p: unknown) => void);
      const sub = () => {
        off();
        this.#connectionSubs.delete(sub);
      };
      this.#connectionSubs.add(sub);
      return sub;
    }
    return this.#emitter.on(event as keyof RoomEvents, fn as (p: unknown) => void);
  }

  navigate(roomOrUrl: string, metadata?: Record<string, string>): Promise<void> {
    if (this.#left) return Promise.reject(new Error("the room handle was left"));
    return this.#host.navigate(this, roomOrUrl, metadata);
  }

  setMetadata(metadata: Record<string, string>): Promise<void> {
    if (this.#left) return Promise.reject(new Error("the room handle was left"));
    return this.#host.setMetadata(this, metadata);
  }

  broadcast(type: string, payload: JsonValue = null): Promise<BroadcastResult> {
    if (this.#left) return Promise.reject(new Error("the room handle was left"));
    return this.#host.broadcast(this, type, payload);
  }

  onBroadcast<T extends JsonValue = JsonValue>(type: string, fn: (event: BroadcastEvent<T>) => void, options: { includeSelf?: boolean | undefined } = {}): () => void {
    return this.#emitter.on("broadcast", (e) => {
      if ((type === "*" || e.type === type) && (options.includeSelf || !e.isSelf)) fn(e as BroadcastEvent<T>);
    });
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.onLeave?.();
    this.onLeave = null;
    for (const sub of [...this.#connectionSubs]) sub();
    try {
      await this.#host.leave(this);
    } finally {
      this.#emitter.clear();
    }
  }
}
