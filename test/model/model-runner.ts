import { expect } from "vitest";
import { noEffects, type PresenceModel } from "../../src/core/presence-model.js";
import { modelUserStatus, modelView } from "../../src/core/presence-reads.js";
import { outcome, resolve, type Op, type Step } from "./model-commands.js";
import { QUOTA_KEYS, ROOMS, USERS, type ModelWorld } from "./model-world.js";
import { RECORD_OPS, UNORDERED_LEAVES } from "./model-seeds-commands.js";

/**
 * Runs one step on the model and on the store and checks that they agree: the op's outcome (the
 * result, or the error reason), then the observable state (every room's full view, every user's
 * status, every owner's session count) and the commits the step reported. A `pair` runs its two
 * ops concurrently on the store (on their nodes); the model accepts it when one of the two serial
 * orders explains the store's outcomes, state and commits. Two ops on one session run one after the
 * other instead (see `Resolved.sessions`).
 */
export async function runStep(w: ModelWorld, step: Step): Promise<void> {
  if (step.op === "pair") return runPair(w, step.a, step.b);
  if (step.op === "advance") {
    w.clock.advance(step.ms);
    return expectSameState(w);
  }
  const fx = noEffects();
  const r = resolve(w, step, fx)!;
  w.commits = [];
  const mo = await outcome(r.model);
  const so = await outcome(r.store);
  if ("value" in mo && "value" in so) learn(w, step, mo.value, so.value);
  const side = (o: typeof mo, s: "model" | "store") => ("error" in o ? { error: o.error } : { ok: r.compare(s, o.value, "value" in mo ? mo.value : undefined) });
  expect(side(so, "store"), `outcome of ${JSON.stringify(step)}`).toEqual(side(mo, "model"));
  await expectSameState(w);
  // Known divergence (DECISIONS.md "store: counterexamples", 2026-12-07 seeds2): on Redis a user's
  // first session whose Join is refused (ROOM_FULL, ROOM_ENDED) had its user's status set in
  // parallel with the room step, so status watchers see the user online, then back as before; the
  // state after (checked above) is the model's. Only that step's status commits are left out.
  const refusedFirstJoin = step.op === "join" && "error" in so && (so.error === "ROOM_FULL" || so.error === "ROOM_ENDED");
  const got = w.commitsOf("store", refusedFirstJoin ? w.commits.filter((c) => c.type !== "user_status") : w.commits);
  const want = w.commitsOf("model", fx);
  // Sessions that expired together are reaped in an unspecified order (Redis: bucket by bucket):
  // which connection's leave got which version may differ, the versions and counts may not. The
  // members of an ended room leave in an unspecified order too (Redis: the members hash's), so
  // which user's leave comes first, and so the counts after each, may differ as well.
  const anonymize = (e: string) => e.replace(/ c\d+ [a-z]+ timeout/, " * timeout").replace(/ left u\d+\/c\d+\/a\d+ c\d+ [a-z]+ ended last=(true|false)/, " left * ended");
  // A user's status on the way depends on that order too (an active session leaving first makes
  // them away for a moment): only each user's last status of the step is compared.
  const finalStatuses = (list: string[]) => list.filter((e, i) => !e.startsWith("status ") || !list.slice(i + 1).some((l) => l.startsWith(`${e.split(" ", 2).join(" ")} `)));
  const unordered = UNORDERED_LEAVES.has(step.op) ? (list: string[]) => [finalStatuses(list).map(anonymize), [...list].sort()] : (list: string[]) => list;
  if (UNORDERED_LEAVES.has(step.op)) {
    const connections = (list: string[]) => finalStatuses(list).map((e) => e.replace(/@\d+ /, " ").replace(/ u\d+\/c\d+\/a\d+ /, " ").replace(/ last=(true|false)/, "")).sort();
    expect(connections(got), `reaped connections of ${JSON.stringify(step)}`).toEqual(connections(want));
  }
  expect(unordered(got)[0], `commits of ${JSON.stringify(step)}`).toEqual(unordered(want)[0]);
}

/** A join that created a session on both sides adds a handle; any join pairs the connection ids. */
function learn(w: ModelWorld, op: Op, model: unknown, store: unknown): void {
  if (op.op !== "join") return;
  const m = model as { session: { id: string; resumeSecret: string; connectionId: string; ownerKey: string }; sessionCreated: boolean };
  const s = store as { session: { sessionId: string; resumeSecret: string; connectionId: string }; sessionCreated: boolean };
  w.pairConnection(s.session.connectionId, m.session.connectionId);
  if (m.sessionCreated && s.sessionCreated) {
    w.handles.push({ owner: m.session.ownerKey, model: { sessionId: m.session.id, resumeSecret: m.session.resumeSecret }, store: { sessionId: s.session.sessionId, resumeSecret: s.session.resumeSecret } });
  }
}

async function runPair(w: ModelWorld, a: Op, b: Op): Promise<void> {
  if (a.op === "advance" || b.op === "advance" || RECORD_OPS.has(a.op) || RECORD_OPS.has(b.op)) {
    for (const op of [a, b]) await runStep(w, op);
    return;
  }
  const unused = noEffects();
  const ra = resolve(w, a, unused)!;
  const rb = resolve(w, b, unused)!;
  if (ra.sessions.some((s) => rb.sessions.includes(s))) {
    for (const op of [a, b]) await runStep(w, op);
    return;
  }
  w.commits = [];
  const [sa, sb] = await Promise.all([outcome(ra.store), outcome(rb.store)]);
  const storeCommits = w.commits;
  const raw = await readStore(w);
  const snapshot = snapshotModel(w.model);
  const failures: string[] = [];
  const status = (o: typeof sa) => ("error" in o ? o.error : "ok");
  for (const order of [[a, b], [b, a]] as const) {
    restoreModel(w.model, snapshot);
    w.begin();
    const fx = noEffects();
    const [r1, r2] = order.map((op) => resolve(w, op, fx)!);
    const o1 = await outcome(r1!.model);
    const o2 = await outcome(r2!.model);
    const [ma, mb] = order[0] === a ? [o1, o2] : [o2, o1];
    try {
      if ("value" in ma && "value" in sa) learn(w, a, ma.value, sa.value);
      if ("value" in mb && "value" in sb) learn(w, b, mb.value, sb.value);
    } catch (e) {
      w.rollback();
      failures.push(`order ${order[0] === a ? "a then b" : "b then a"}: ${String(e)}`);
      continue;
    }
    const want = { outcomes: [status(ma), status(mb)], state: observeModel(w), commits: w.commitsOf("model", fx).sort() };
    const got = { outcomes: [status(sa), status(sb)], state: normalizeStore(w, raw), commits: w.commitsOf("store", storeCommits).sort() };
    if (canonical(got) === canonical(want)) return w.commit();
    w.rollback();
    failures.push(`order ${order[0] === a ? "a then b" : "b then a"}:\n  store ${JSON.stringify(got)}\n  model ${JSON.stringify(want)}`);
  }
  restoreModel(w.model, snapshot);
  expect.fail(`concurrent ${JSON.stringify(a)} and ${JSON.stringify(b)} match no serial order\n${failures.join("\n")}`);
}

/** JSON with object keys sorted (records built in another order compare equal, like toEqual). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

/** The store's raw observable state: every room's full view, every user's status, every owner's session count. */
async function readStore(w: ModelWorld) {
  const store = w.nodes[0]!.store;
  const [views, statuses, sessions] = await Promise.all([
    Promise.all(ROOMS.map((room) => store.getView(room, { includeMembers: true }))),
    store.getUserStatus(USERS),
    Promise.all(QUOTA_KEYS.map((o) => store.countSessions(o))),
  ]);
  return { views, statuses, sessions };
}

function normalizeStore(w: ModelWorld, raw: Awaited<ReturnType<typeof readStore>>): unknown {
  const now = w.clock.now();
  return {
    rooms: raw.views.map((v, i) => w.view(v, "store", modelView(w.model, ROOMS[i]!, true, now).epoch)),
    statuses: raw.statuses,
    sessions: raw.sessions,
  };
}

function observeModel(w: ModelWorld): unknown {
  const now = w.clock.now();
  return {
    rooms: ROOMS.map((room) => modelView(w.model, room, true, now)).map((v) => w.view(v, "model", v.epoch)),
    statuses: modelUserStatus(w.model, USERS, now),
    sessions: QUOTA_KEYS.map((o) => w.model.sessions.quotas.get(o) ?? 0),
  };
}

async function expectSameState(w: ModelWorld): Promise<void> {
  const raw = await readStore(w);
  expect(normalizeStore(w, raw), "state").toEqual(observeModel(w));
}

type ModelSnapshot = Pick<PresenceModel, "sessions" | "users" | "rooms" | "nodes">;

function snapshotModel(m: PresenceModel): ModelSnapshot {
  return structuredClone({ sessions: m.sessions, users: m.users, rooms: m.rooms, nodes: m.nodes });
}

function restoreModel(m: PresenceModel, s: ModelSnapshot): void {
  const copy = structuredClone(s);
  for (const k of ["sessions", "requests", "quotas"] as const) {
    const target = m.sessions[k] as Map<string, unknown>;
    target.clear();
    for (const [key, v] of copy.sessions[k]) target.set(key, v);
  }
  for (const k of ["users", "rooms", "nodes"] as const) {
    const target = m[k] as Map<string, unknown>;
    target.clear();
    for (const [key, v] of copy[k] as Map<string, unknown>) target.set(key, v);
  }
}
