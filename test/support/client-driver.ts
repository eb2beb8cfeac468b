import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import type { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import type { FaultScope } from "./fault-scope.js";
import type { NodeProcess } from "./node-process.js";
import { recordWatch, type RecordedWatch } from "./watch-recorder.js";

/**
 * The client driver of reliability.md §4: careful clients that hold a session in some rooms and
 * keep it alive with attached streams (a WatchPresence per room naming the session), and that
 * recover from faults the way the SDK does:
 *
 * - a stream ended by its node (DRAINING, unavailable, a lost connection): back off, then watch the
 *   same rooms naming the same session on the node `pick()` gives (reclaim within the reconnect
 *   grace: nobody should see a leave or a join);
 * - the session found gone (SESSION_NOT_FOUND: reaped while the client was cut off): rejoin with
 *   the session id and resume secret (a new session and connection id when it is gone for good),
 *   then watch again. Each rejoin adds a connection id to `cids`.
 *
 * The driver is the ground truth: `cid()` is the connection the client holds now, `cids` every
 * connection it ever had, and `stop()` (vanish: no leave) / `leave()` (explicit) end it.
 * The attached streams are recorded too (`streams()`), so their views are checked like any watcher.
 */
export interface DriverClient {
  readonly user: string;
  readonly rooms: readonly string[];
  /** Every connection id the client had, in order; the last one is current. */
  readonly cids: readonly string[];
  /** Every session id the client had, in order. */
  readonly sids: readonly string[];
  cid(): string;
  sessionId(): string;
  /** The node its streams are on (or were last). */
  node(): NodeProcess;
  /** Sessions lost and made again (a new connection id). */
  rejoins(): number;
  /** Times the same session was watched again on a node after its streams ended. */
  reattaches(): number;
  /** Why streams ended (not counting our own cancels): `code/reason`. */
  readonly endings: readonly string[];
  /** Every attached stream the client ever had, in order. */
  streams(): readonly RecordedWatch[];
  /** True when every room has a live attached stream past its first snapshot and no recovery runs. */
  settled(): boolean;
  /** Cancels the streams without leaving (the client vanishes; its session enters the grace). */
  stop(): Promise<void>;
  /** Leaves every room (explicit), then stops. */
  leave(): Promise<void>;
}

export interface DriverOptions {
  user: string;
  token: string;
  rooms: readonly string[];
  /** The node to (re)connect to; called before each attempt. */
  pick: () => NodeProcess;
  /** Back-off before a reconnect: uniform in [min, max] ms. Default 50–150. */
  backoffMs?: [number, number];
}

const reasonOf = (e: ConnectError) => e.findDetails(ErrorInfoSchema)[0]?.reason ?? "";

export async function startDriverClient(scope: FaultScope, o: DriverOptions): Promise<DriverClient> {
  const clients = new Map<string, Client<typeof PresenceService>>();
  const clientOf = (n: NodeProcess) => {
    let c = clients.get(n.rpcUrl);
    if (!c) clients.set(n.rpcUrl, (c = scope.client(n.rpcUrl, o.token)));
    return c;
  };
  const [lo, hi] = o.backoffMs ?? [50, 150];
  const cids: string[] = [];
  const sids: string[] = [];
  const endings: string[] = [];
  const all: RecordedWatch[] = [];
  let current: RecordedWatch[] = [];
  let node = o.pick();
  let sid = "";
  let secret = "";
  let rejoins = 0;
  let reattaches = 0;
  let recovering: Promise<void> | null = null;
  let stopped = false;
  let generation = 0;

  async function join(n: NodeProcess, reclaim: boolean): Promise<void> {
    const c = clientOf(n);
    const first = await c.join({ room: o.rooms[0]!, ...(reclaim ? { sessionId: sid, resumeSecret: secret } : {}) });
    const s = first.session!;
    const fresh = s.connectionId !== cids.at(-1);
    sid = s.sessionId;
    if (sids.at(-1) !== sid) sids.push(sid);
    if (s.resumeSecret) secret = s.resumeSecret;
    if (fresh) cids.push(s.connectionId);
    for (const room of o.rooms.slice(1)) await c.join({ room, sessionId: sid });
    if (reclaim && fresh) rejoins++;
  }

  /** Watches every room naming the session on `n`; throws the first stream error before its snapshot. */
  async function attach(n: NodeProcess): Promise<void> {
    const gen = ++generation;
    const c = clientOf(n);
    const watches = o.rooms.map((room) => recordWatch(c, { room, sessionId: sid }));
    all.push(...watches);
    current = watches;
    node = n;
    for (const w of watches) {
      await w.until((r) => r.view() !== null || w.isEnded(), 10_000, `attached stream of ${w === watches[0] ? o.rooms[0] : "a room"} on ${n.rpcUrl}`);
      if (w.isEnded()) {
        const e = await w.ended;
        for (const x of watches) x.cancel();
        throw e ?? new ConnectError("stream ended before its snapshot", Code.Unavailable);
      }
    }
    for (const w of watches) void w.ended.then((e) => gen === generation && !stopped && onEnd(e));
  }

  function onEnd(e: ConnectError | undefined) {
    if (recovering) return;
    endings.push(e ? `${Code[e.code]}/${reasonOf(e)}` : "OK/");
    generation++; // the other streams of this generation end with it (or are cancelled below)
    for (const w of current) w.cancel();
    recovering = recover(e ? reasonOf(e) === "SESSION_NOT_FOUND" : false).finally(() => (recovering = null));
  }

  async function recover(lost: boolean): Promise<void> {
    for (let attempt = 1; !stopped; attempt++) {
      await new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
      if (stopped) return;
      const n = o.pick();
      try {
        if (lost) await join(n, true);
        await attach(n);
        if (!lost) reattaches++;
        return;
      } catch (err) {
        const e = ConnectError.from(err);
        if (reasonOf(e) === "SESSION_NOT_FOUND") lost = true;
        if (attempt >= 50) throw new Error(`${o.user}: could not recover after ${attempt} attempts: ${e.message}`);
      }
    }
  }

  await join(node, false);
  await attach(node);

  const d: DriverClient = {
    user: o.user,
    rooms: o.rooms,
    cids,
    sids,
    cid: () => cids.at(-1)!,
    sessionId: () => sid,
    node: () => node,
    rejoins: () => rejoins,
    reattaches: () => reattaches,
    endings,
    streams: () => all,
    settled: () => !recovering && current.every((w) => !w.isEnded() && w.recorder.view() !== null),
    async stop() {
      stopped = true;
      generation++;
      for (const w of current) w.cancel();
      await recovering?.catch(() => {});
    },
    async leave() {
      await d.stop();
      const c = clientOf(node);
      for (const room of o.rooms) await c.leave({ sessionId: sid, room });
    },
  };
  scope.defer(() => d.stop());
  return d;
}
