import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { Detail } from "../../gen/presence/v1/types_pb.js";
import { recordWatch, toComparable, type ComparableView, type RecordedWatch } from "./watch-recorder.js";

/**
 * The multi-node recorder of reliability.md §4: one WatchPresence per (node, room), each fed to the
 * watch-recorder, so a fault test checks every watcher of every node with one oracle (I1, I3, I4).
 *
 * A watcher whose node dies keeps its recorded history: the stream error is recorded, never thrown.
 * `reattach(i, rpcUrl)` continues a watcher on another (or a restarted) node with `resume_from` and
 * the view it had, as a careful client would; the server then resumes with events or sends a
 * snapshot (counted by `resyncs()`). Each stream has its own HTTP/2 connection (gRPC protocol).
 */

export interface ClusterRecorderOptions {
  /** Bearer token of the watchers (default: none, anonymous). */
  token?: string;
  /** `detail = COUNTS` watchers. */
  counts?: boolean;
}

/** A watch that survives node changes; `segments` holds one recorded stream per attach. */
export interface ClusterWatcher {
  readonly index: number;
  readonly room: string;
  /** The node of the current segment. */
  readonly rpcUrl: string;
  readonly segments: readonly RecordedWatch[];
  /** Stream errors other than our own cancel, in order. */
  readonly errors: readonly { rpcUrl: string; code: Code; message: string; atMs: number }[];
  /** True while the current segment's stream is open. */
  isLive(): boolean;
}

/** What `waitConverged` compares: any fields of a ComparableView (absent fields are not compared). */
export type TruthView = Partial<ComparableView>;

export interface ClusterRecorder {
  /** Watchers in (node, room) order: index = nodeIndex * rooms.length + roomIndex. */
  readonly watchers: readonly ClusterWatcher[];
  /** Per watcher: its current view (null before its first snapshot). */
  views(): (ComparableView | null)[];
  /** Per watcher: its recorder violations over every segment, each prefixed with the watcher. */
  violations(): string[][];
  /** Per watcher: `left` / `joined` events seen for `connectionId` over every segment. */
  leavesFor(connectionId: string): number[];
  joinsFor(connectionId: string): number[];
  /** Per watcher: complete snapshots after its first one. */
  resyncs(): number[];
  /**
   * Resolves when every live watcher's view matches `truth()` for its room (comparing only the fields
   * truth gives); rejects after `timeoutMs` with the differences. Ended watchers are skipped.
   */
  waitConverged(truth: () => Promise<Map<string, TruthView>>, timeoutMs?: number): Promise<void>;
  /** Ends watcher `index`'s stream (if open) and continues it on `rpcUrl` with `resume_from`. */
  reattach(index: number, rpcUrl: string): Promise<void>;
  /** Cancels every stream and closes their connections. */
  close(): Promise<void>;
}

interface Segment {
  watch: RecordedWatch;
  rpcUrl: string;
  cancelled: boolean;
  session: Http2SessionManager;
}

/** Opens one recorded WatchPresence per (node, room). */
export function recordRooms(nodes: readonly { rpcUrl: string }[], rooms: readonly string[], opts: ClusterRecorderOptions = {}): ClusterRecorder {
  const headers = opts.token === undefined ? undefined : { authorization: `Bearer ${opts.token}` };
  const state = nodes.flatMap((n) => rooms.map((room) => ({ room, segs: [] as Segment[], errors: [] as ClusterWatcher["errors"][number][] })));

  function open(i: number, rpcUrl: string) {
    const w = state[i]!;
    const prev = w.segs.at(-1)?.watch.recorder;
    const position = prev?.position();
    const from = prev?.view() ?? undefined;
    const session = new Http2SessionManager(rpcUrl);
    const client = createClient(PresenceService, createGrpcTransport({ baseUrl: rpcUrl, sessionManager: session }));
    const request = {
      room: w.room,
      detail: opts.counts ? Detail.COUNTS : Detail.FULL,
      resumeFrom: position && !opts.counts ? { epoch: position.epoch, version: BigInt(position.version) } : undefined,
    };
    const seg: Segment = { watch: recordWatch(client, request, { from, counts: opts.counts, headers }), rpcUrl, cancelled: false, session };
    w.segs.push(seg);
    void seg.watch.ended.then((err) => {
      if (err && !(seg.cancelled && err.code === Code.Canceled)) w.errors.push({ rpcUrl, code: err.code, message: err.rawMessage, atMs: Date.now() });
      session.abort();
    });
  }

  async function end(seg: Segment) {
    if (!seg.watch.isEnded()) {
      seg.cancelled = true;
      seg.watch.cancel();
    }
    await seg.watch.ended;
    seg.session.abort();
  }

  nodes.forEach((n, ni) => rooms.forEach((_, ri) => open(ni * rooms.length + ri, n.rpcUrl)));

  const watchers: ClusterWatcher[] = state.map((w, index) => ({
    index,
    room: w.room,
    get rpcUrl() {
      return w.segs.at(-1)!.rpcUrl;
    },
    get segments() {
      return w.segs.map((s) => s.watch);
    },
    get errors() {
      return w.errors;
    },
    isLive: () => !w.segs.at(-1)!.watch.isEnded(),
  }));

  const label = (i: number) => `w${i} (${state[i]!.room} @ ${watchers[i]!.rpcUrl})`;
  const sum = (i: number, f: (s: Segment) => number) => state[i]!.segs.reduce((n, s) => n + f(s), 0);
  const current = (i: number) => state[i]!.segs.at(-1)!.watch.recorder;

  return {
    watchers,
    views: () => state.map((_, i) => current(i).view()),
    violations: () => state.map((w, i) => w.segs.flatMap((s) => s.watch.recorder.violations.map((v) => `${label(i)}: ${v}`))),
    leavesFor: (cid) => state.map((_, i) => sum(i, (s) => s.watch.recorder.leavesOf(cid))),
    joinsFor: (cid) => state.map((_, i) => sum(i, (s) => s.watch.recorder.joinsOf(cid))),
    resyncs: () => state.map((_, i) => Math.max(0, sum(i, (s) => s.watch.recorder.snapshots()) - 1)),
    async waitConverged(truth, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const t = await truth();
        const diffs: string[] = [];
        state.forEach((w, i) => {
          if (!watchers[i]!.isLive()) return;
          const want = t.get(w.room);
          const got = current(i).view();
          if (!want) return void diffs.push(`${label(i)}: no truth for the room`);
          const picked = got && Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof ComparableView]]));
          if (JSON.stringify(picked) !== JSON.stringify(want)) diffs.push(`${label(i)}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
        });
        if (diffs.length === 0) return;
        if (Date.now() > deadline) throw new Error(`watchers did not converge in ${timeoutMs} ms:\n  ${diffs.join("\n  ")}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async reattach(index, rpcUrl) {
      const w = state[index];
      if (!w) throw new Error(`no watcher ${index}`);
      await end(w.segs.at(-1)!);
      open(index, rpcUrl);
    },
    async close() {
      await Promise.all(state.map((w) => end(w.segs.at(-1)!)));
    },
  };
}

/** Ground truth from one node: `GetPresence` of each room, as comparable views. */
export function presenceTruth(rpcUrl: string, rooms: readonly string[], token?: string): () => Promise<Map<string, ComparableView>> {
  const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
  return async () => {
    const session = new Http2SessionManager(rpcUrl);
    try {
      const client = createClient(PresenceService, createGrpcTransport({ baseUrl: rpcUrl, sessionManager: session }));
      const views = await Promise.all(rooms.map((room) => client.getPresence({ room }, { headers })));
      return new Map(views.map((v, i) => [rooms[i]!, toComparable(v.view!)]));
    } finally {
      session.abort();
    }
  };
}
