import fc from "fast-check";
import type { MemberIdentity } from "../../src/core/identity.js";
import { modelAttach, modelKick, modelReap, modelRefresh, modelRelease } from "../../src/core/presence-lifecycle.js";
import { leaseOf, modelHeartbeat, modelJoin, modelLeave, modelNavigate, noEffects, type Effects } from "../../src/core/presence-model.js";
import { modelJoinView, modelSetStatus } from "../../src/core/presence-reads.js";
import { PresenceError } from "../../src/core/presence-error.js";
import type { JoinResult } from "../../src/core/session.js";
import { ANON_QUOTA_KEY, OWNERS, ROOMS, USERS, type Handle, type ModelWorld } from "./model-world.js";
import { PRESENCE, resolveSeeds, seedsOpArbitraries, type SeedsOp } from "./model-seeds-commands.js";

/**
 * The operations of a model-based run, as plain data (so fast-check can shrink them), and how each
 * runs on the model and on a store node. A handle index picks a session created earlier in the
 * run (modulo their number; "nope" when there is none); `asOther` acts with another owner key.
 */
export type Op =
  | { op: "join"; node: number; who: number; room: number; mode: "new" | "use" | "reclaim" | "badSecret"; handle: number; requestId: number; md: number; activity: number; scopes: number; presence: number; quota: number }
  | { op: "leave"; node: number; handle: number; room: number; asOther: boolean }
  | { op: "navigate"; node: number; handle: number; from: number; to: number; md: number }
  | { op: "heartbeat"; node: number; handle: number; activity: number; asOther: boolean }
  | { op: "attach"; node: number; handle: number }
  | { op: "release"; node: number; handle: number; graceMs: number }
  | { op: "refresh"; node: number; handles: number[] }
  | { op: "setStatus"; node: number; handle: number; custom: number; invisible: number; presence: number }
  | { op: "kick"; node: number; handle: number }
  | { op: "advance"; ms: number }
  | { op: "reap"; node: number }
  | SeedsOp;

export type Step = Op | { op: "pair"; a: Op; b: Op };

const METADATA: Record<string, string>[] = [{}, { page: "a" }, { page: "b" }];
const ACTIVITY = [undefined, "active", "away"] as const;
const CUSTOM = [undefined, "", "busy"];
const INVISIBLE = [undefined, false, true];
const OVERRIDE = [undefined, "auto", "away", "online"] as const;
/** Scopes of a new user session: none, or one whose override shortens the away threshold. */
const SCOPES: string[][] = [[], ["fast:1"]];

export function stepArbitrary(nodes: number): fc.Arbitrary<Step> {
  const node = fc.nat({ max: nodes - 1 });
  const handle = fc.nat({ max: 7 });
  const room = fc.nat({ max: ROOMS.length - 1 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant("join" as const), node, who: fc.nat({ max: USERS.length }), room, mode: fc.constantFrom("new" as const, "use" as const, "reclaim" as const, "badSecret" as const), handle, requestId: fc.integer({ min: -1, max: 1 }), md: fc.nat({ max: 2 }), activity: fc.nat({ max: 2 }), scopes: fc.nat({ max: SCOPES.length - 1 }), presence: fc.nat({ max: PRESENCE.length - 1 }), quota: fc.nat({ max: 3 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("leave" as const), node, handle, room, asOther: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("navigate" as const), node, handle, from: fc.integer({ min: -1, max: ROOMS.length - 1 }), to: room, md: fc.nat({ max: 2 }) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("heartbeat" as const), node, handle, activity: fc.nat({ max: 2 }), asOther: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("attach" as const), node, handle }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("release" as const), node, handle, graceMs: fc.constantFrom(0, 300, 2_000) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("refresh" as const), node, handles: fc.array(handle, { minLength: 1, maxLength: 3 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("setStatus" as const), node, handle, custom: fc.nat({ max: 2 }), invisible: fc.nat({ max: 2 }), presence: fc.nat({ max: OVERRIDE.length - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("kick" as const), node, handle }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.constantFrom(1, 250, 600, 1_001) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("reap" as const), node }) },
    ...seedsOpArbitraries(node, handle, room),
  );
  return fc.oneof({ weight: 9, arbitrary: op }, { weight: 1, arbitrary: fc.record({ op: fc.constant("pair" as const), a: op, b: op }) });
}

const userIdentity = (i: number): MemberIdentity => ({ kind: "user", user: { userId: USERS[i]!, name: USERS[i]!.toUpperCase(), avatarUrl: "", metadata: {} } });
const identityOf = (owner: string, anonymousId = "v1"): MemberIdentity => (owner === "" ? { kind: "anonymous", anonymousId } : userIdentity(USERS.indexOf(owner.slice(2))));

/** One side's outcome of an op, as comparable data. */
export type Outcome = { ok: unknown } | { error: string };

function pick(w: ModelWorld, i: number): Handle | null {
  return w.handles.length === 0 ? null : w.handles[i % w.handles.length]!;
}

function otherOwner(owner: string): string {
  return OWNERS[(OWNERS.indexOf(owner) + 1) % OWNERS.length]!;
}

/** Resolved arguments of an op for both sides. */
export interface Resolved {
  model: () => unknown;
  store: () => Promise<unknown>;
  /** Comparable form of a successful result (side-specific ids translated). */
  compare: (side: "model" | "store", result: unknown, modelResult: unknown) => unknown;
  /**
   * The sessions the op acts on (a first Join with a request id: the request). Concurrent calls
   * on one session are not serializable by design (see store-model.test.ts): a pair sharing one
   * runs one after the other here, and session-concurrency.test.ts checks what holds then.
   */
  sessions: string[];
}

/** Resolves an op against the world's current handles (before either side runs it). */
export function resolve(w: ModelWorld, op: Op, fx: Effects): Resolved | null {
  const r = resolveOp(w, op, fx);
  if (!r || !("node" in op)) return r;
  // The model acts as the node the op runs on: the store fences some calls by the session's
  // recorded node (a release by a node the session is no longer recorded for changes nothing).
  const run = r.model;
  return { ...r, model: () => (w.actAs(op.node), run()) };
}

function resolveOp(w: ModelWorld, op: Op, fx: Effects): Resolved | null {
  const m = w.model;
  const now = () => w.clock.now();
  const node = (n: number) => w.nodes[n % w.nodes.length]!.store;
  const refOf = (h: Handle | null, asOther = false) => {
    const owner = h ? (asOther ? otherOwner(h.owner) : h.owner) : "u:ana";
    return { model: { sessionId: h?.model.sessionId ?? "nope", ownerKey: owner }, store: { sessionId: h?.store.sessionId ?? "nope", ownerKey: owner } };
  };
  const same = (_side: "model" | "store", r: unknown) => r;
  switch (op.op) {
    case "join": {
      const h = pick(w, op.handle);
      const useHandle = op.mode !== "new" && h !== null;
      const owner = useHandle ? h.owner : OWNERS[op.who]!;
      const base = {
        room: ROOMS[op.room]!,
        ownerKey: owner,
        quotaKey: owner === "" ? ANON_QUOTA_KEY : undefined,
        identity: identityOf(owner, `v${op.md}`),
        metadata: METADATA[op.md]!,
        activity: ACTIVITY[op.activity],
        scopes: owner === "" ? undefined : SCOPES[op.scopes],
        presence: owner === "" || op.presence === 0 ? undefined : PRESENCE[op.presence],
        maxSessions: op.quota, // 0 = no sessions quota; 1–3 make refusals (QUOTA_EXCEEDED) common
      };
      const requestId = !useHandle && op.requestId >= 0 ? `q${op.requestId}` : undefined;
      const side = (ids: { sessionId: string; resumeSecret: string } | undefined) => ({
        ...base,
        requestId,
        sessionId: useHandle ? ids!.sessionId : undefined,
        resumeSecret: !useHandle || op.mode === "use" ? undefined : op.mode === "reclaim" ? ids!.resumeSecret : "wrong",
      });
      return {
        model: () => {
          const r = modelJoin(m, side(h?.model), now(), fx);
          return { ...r, view: modelJoinView(m, base.room, now()) };
        },
        store: () => node(op.node).join(side(h?.store)),
        sessions: useHandle ? [h.store.sessionId] : requestId ? [`request ${requestId} ${owner}`] : [],
        compare: (s, r, mr) => {
          const j = r as JoinResult & { session: { sessionId: string; connectionId: string; id?: string } };
          const conn = s === "model" ? (r as { session: { connectionId: string } }).session.connectionId : w.conn(j.session.connectionId);
          const modelView = (mr as { view: { epoch: string } }).view;
          const view = w.view(j.view, s, modelView.epoch); // first: pairs a new room's epoch
          return { conn, sessionCreated: j.sessionCreated, roomCreated: j.roomCreated, resumed: j.resumed, event: w.event(j.event, s), view };
        },
      };
    }
    case "leave": {
      const ref = refOf(pick(w, op.handle), op.asOther);
      const room = ROOMS[op.room]!;
      return {
        model: () => modelLeave(m, { ...ref.model, room, reason: "left" }, now(), fx),
        store: () => node(op.node).leave({ ...ref.store, room, reason: "left" }),
        compare: same,
        sessions: [ref.store.sessionId],
      };
    }
    case "navigate": {
      const ref = refOf(pick(w, op.handle));
      const args = { fromRoom: op.from < 0 ? "" : ROOMS[op.from]!, toRoom: ROOMS[op.to]!, metadata: METADATA[op.md]! };
      return {
        model: () => {
          const s = modelNavigate(m, { ...ref.model, ...args }, now(), fx);
          return { lease: leaseOf(m, s), view: modelJoinView(m, args.toRoom, now()) };
        },
        store: () => node(op.node).navigate({ ...ref.store, ...args }),
        sessions: [ref.store.sessionId],
        compare: (s, r, mr) => {
          const n = r as { lease: unknown; view: Parameters<ModelWorld["view"]>[0] };
          return { lease: n.lease, view: w.view(n.view, s, (mr as { view: { epoch: string } }).view.epoch) };
        },
      };
    }
    case "heartbeat": {
      const ref = refOf(pick(w, op.handle), op.asOther);
      const activity = ACTIVITY[op.activity];
      return {
        model: () => leaseOf(m, modelHeartbeat(m, { ...ref.model, activity }, now(), fx).session),
        store: () => node(op.node).heartbeat({ ...ref.store, activity }),
        compare: same,
        sessions: [ref.store.sessionId],
      };
    }
    case "attach": {
      const ref = refOf(pick(w, op.handle));
      return { model: () => leaseOf(m, modelAttach(m, ref.model, now())), store: () => node(op.node).attach(ref.store), compare: same, sessions: [ref.store.sessionId] };
    }
    case "release": {
      const ref = refOf(pick(w, op.handle));
      return { model: () => modelRelease(m, ref.model, op.graceMs, now()), store: () => node(op.node).release(ref.store, op.graceMs), compare: () => "done", sessions: [ref.store.sessionId] };
    }
    case "refresh": {
      const hs = op.handles.map((i) => pick(w, i));
      const modelIds = hs.map((h) => h?.model.sessionId ?? "nope");
      const storeIds = hs.map((h) => h?.store.sessionId ?? "nope");
      return {
        model: () => ({ missing: modelRefresh(m, modelIds, now()) }),
        store: () => node(op.node).refresh(storeIds),
        compare: (s, r) => (r as { missing: string[] }).missing.map((id) => (s === "model" ? modelIds : storeIds).indexOf(id)),
        sessions: storeIds,
      };
    }
    case "setStatus": {
      const ref = refOf(pick(w, op.handle));
      const change = { customStatus: CUSTOM[op.custom], invisible: INVISIBLE[op.invisible], presence: OVERRIDE[op.presence] };
      return { model: () => modelSetStatus(m, { ...ref.model, ...change }, now(), fx), store: () => node(op.node).setStatus({ ...ref.store, ...change }), compare: same, sessions: [ref.store.sessionId] };
    }
    case "kick": {
      const h = pick(w, op.handle);
      return {
        model: () => ({ roomsLeft: modelKick(m, h?.model.sessionId ?? "nope", now(), fx).roomsLeft }),
        store: () => node(op.node).kickSession(h?.store.sessionId ?? "nope"),
        compare: same,
        sessions: [h?.store.sessionId ?? "nope"],
      };
    }
    case "reap":
      return { model: () => modelReap(m, now(), fx), store: () => node(op.node).reap(), compare: same, sessions: [] };
    case "advance":
      return null;
    default:
      return resolveSeeds(w, op, fx, { node, refOf, now });
  }
}

/** Runs `f`, turning a PresenceError into its reason (any other exception is a test failure). */
export async function outcome(f: () => unknown): Promise<{ error: string } | { value: unknown }> {
  try {
    return { value: await f() };
  } catch (e) {
    if (e instanceof PresenceError) return { error: e.reason };
    throw e;
  }
}

export { noEffects };
