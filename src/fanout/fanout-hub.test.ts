import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeClock } from "../core/fake-clock.js";
import { createIdSource } from "../core/ids.js";
import type { MemberIdentity } from "../core/identity.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../config.js";
import { PresenceError } from "../core/presence-error.js";
import { createMemoryPresenceStore } from "../store/memory/memory-store.js";
import { createFanoutHub, type WatchItem } from "./fanout-hub.js";

const tick = () => new Promise((r) => setImmediate(r));
const user = (id: string): MemberIdentity => ({ kind: "user", user: { userId: id, name: id, avatarUrl: "", metadata: {} } });

function setup(limits: Partial<typeof DEFAULT_LIMITS> = {}) {
  const clock = createFakeClock();
  const timings = { ...DEFAULT_TIMINGS, sessionTtlMs: 1_000_000 };
  const store = createMemoryPresenceStore({ clock, ids: createIdSource((n) => randomBytes(n)), timings, limits: { ...DEFAULT_LIMITS, ...limits } });
  const resyncs: string[] = [];
  const hub = createFanoutHub({ rooms: store, bus: store, clock, timings, limits: { ...DEFAULT_LIMITS, ...limits }, observer: { resync: (r) => resyncs.push(r) } });
  const join = (id: string, room = "r") => store.join({ room, ownerKey: `u:${id}`, identity: user(id), metadata: {} });
  cleanups.push(() => store.close());
  return { clock, store, hub, join, resyncs };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function take(it: AsyncGenerator<WatchItem>, n: number): Promise<WatchItem[]> {
  const out: WatchItem[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe("fan-out hub", () => {
  it("sends a snapshot, then events in version order", async () => {
    const { hub, join } = setup();
    await join("ana");
    const ac = new AbortController();
    const w = hub.watch("r", { detail: "full", signal: ac.signal });
    const [snap] = await take(w, 1);
    expect(snap).toMatchObject({ type: "snapshot", first: true, last: true, view: { version: 1 } });
    await join("bob");
    await join("cid");
    const evs = await take(w, 2);
    expect(evs.map((e) => e.type === "event" && e.event.version)).toEqual([2, 3]);
    ac.abort();
    expect(hub.watcherCount()).toEqual({ full: 0, counts: 0 });
  });

  it("pages large snapshots", async () => {
    const { hub, join } = setup({ snapshotPageSize: 2 });
    for (const id of ["a", "b", "c", "d", "e"]) await join(id);
    const w = hub.watch("r", { detail: "full", signal: new AbortController().signal });
    const pages = await take(w, 3);
    expect(pages.map((p) => p.type === "snapshot" && [p.first, p.last, p.view.users.length])).toEqual([
      [true, false, 2],
      [false, false, 2],
      [false, true, 1],
    ]);
    await w.return(undefined);
  });

  it("counts watchers get counts only, coalesced per flush", async () => {
    const { hub, join } = setup();
    const w = hub.watch("r", { detail: "counts", signal: new AbortController().signal });
    expect(await take(w, 1)).toMatchObject([{ type: "counts", counts: { users: 0 } }]);
    await Promise.all([join("a"), join("b"), join("c")]);
    await tick();
    expect(await take(w, 1)).toMatchObject([{ type: "counts", version: 3, counts: { users: 3, connections: 3 } }]);
    await w.return(undefined);
  });

  it("a watcher that does not read overflows to one fresh snapshot, memory bounded", async () => {
    const { hub, join, resyncs } = setup({ watcherQueueSize: 8 });
    const w = hub.watch("r", { detail: "full", signal: new AbortController().signal });
    await take(w, 1);
    for (let i = 0; i < 50; i++) await join(`u${i}`);
    await tick();
    expect(resyncs).toEqual(["overflow"]);
    const [next] = await take(w, 1);
    expect(next).toMatchObject({ type: "snapshot", view: { version: 50 } });
    expect(next!.type === "snapshot" && next!.view.users).toHaveLength(50);
    await join("late");
    expect(await take(w, 1)).toMatchObject([{ type: "event", event: { version: 51 } }]);
    await w.return(undefined);
  });

  it("resumes from a kept position with the missed events only, else a snapshot", async () => {
    const { hub, join, resyncs } = setup();
    const first = await join("a");
    await join("b");
    await join("c");
    const w = hub.watch("r", { detail: "full", resumeFrom: { epoch: first.view.epoch, version: 1 }, signal: new AbortController().signal });
    expect((await take(w, 2)).map((i) => i.type === "event" && i.event.version)).toEqual([2, 3]);
    await w.return(undefined);
    const w2 = hub.watch("r", { detail: "full", resumeFrom: { epoch: "stale", version: 1 }, signal: new AbortController().signal });
    expect(await take(w2, 1)).toMatchObject([{ type: "snapshot", view: { version: 3 } }]);
    expect(resyncs).toEqual(["resume_miss"]);
    await w2.return(undefined);
  });

  it("sends keepalives when idle, and ends every watch with DRAINING on close", async () => {
    const { hub, clock } = setup();
    const w = hub.watch("r", { detail: "full", signal: new AbortController().signal });
    await take(w, 1);
    const next = w.next();
    await tick();
    clock.advance(30_000);
    expect((await next).value).toMatchObject({ type: "keepalive" });
    const pending = w.next();
    hub.close(new PresenceError("DRAINING", "draining"));
    await expect(pending).rejects.toMatchObject({ reason: "DRAINING" });
    expect(() => hub.watch("r", { detail: "full", signal: new AbortController().signal })).toThrow(/draining/);
  });

  it("refuses watchers above the process limit with TOO_MANY_WATCHERS", async () => {
    const { hub } = setup({ maxWatchers: 2 });
    const s = new AbortController().signal;
    hub.watch("a", { detail: "full", signal: s });
    hub.watch("b", { detail: "counts", signal: s });
    expect(() => hub.watch("c", { detail: "full", signal: s })).toThrow(expect.objectContaining({ reason: "TOO_MANY_WATCHERS" }));
  });

  it("reports a watcher parked at a yield longer than the stall limit", async () => {
    const { hub, clock } = setup();
    let stalled = 0;
    const w = hub.watch("r", { detail: "full", signal: new AbortController().signal, onStall: () => stalled++ });
    await take(w, 1); // the generator is now parked at its yield until the next pull
    clock.advance(60_000 + 15_000);
    expect(stalled).toBe(1);
    await w.return(undefined);
  });

  it("a position read overtaken by a later commit's live event is no rollback; a store behind what was seen live before the read is", async () => {
    const clock = createFakeClock();
    const timings = { ...DEFAULT_TIMINGS, sessionTtlMs: 1_000_000, positionCheckMs: 1_000 };
    const store = createMemoryPresenceStore({ clock, ids: createIdSource((n) => randomBytes(n)), timings, limits: DEFAULT_LIMITS });
    cleanups.push(() => store.close());
    const join = (id: string) => store.join({ room: "r", ownerKey: `u:${id}`, identity: user(id), metadata: {} });
    // The read runs at the store now; its reply is handed over only after `during` (a commit whose
    // live event the hub handles first, as when the two connections' data arrive together).
    let during: (() => Promise<unknown>) | null = null;
    let behind = 0;
    const rooms = {
      ...store,
      getView: store.getView.bind(store),
      readLog: store.readLog.bind(store),
      renewEpoch: store.renewEpoch.bind(store),
      async position(room: string) {
        const p = await store.position(room);
        if (during) await during();
        return { ...p, version: p.version - behind };
      },
    };
    const resyncs: string[] = [];
    const hub = createFanoutHub({ rooms, bus: store, clock, timings, limits: DEFAULT_LIMITS, observer: { resync: (r) => resyncs.push(r) } });
    await join("ana");
    const w = hub.watch("r", { detail: "full", signal: new AbortController().signal });
    await take(w, 1);
    await join("bob");
    await take(w, 1); // bob's join, live: the hub's last live version is 2
    during = () => join("cid"); // commit 3 lands while the read (version 2) is in flight
    clock.advance(1_000);
    for (let i = 0; i < 20; i++) await tick();
    expect(resyncs).toEqual([]);
    expect((await take(w, 1)).map((i) => i.type === "event" && i.event.version)).toEqual([3]);
    during = null;
    behind = 1; // now the store answers a version below the last live one known before the read
    clock.advance(1_000);
    for (let i = 0; i < 20; i++) await tick();
    expect(resyncs).toEqual(["rollback"]);
  });
});
