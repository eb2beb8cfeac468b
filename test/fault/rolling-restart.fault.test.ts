import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createPresenceClient } from "@presence-platform/client";
import { startDriverClient, type DriverClient } from "../support/client-driver.js";
import { faultScope } from "../support/fault-scope.js";
import { messagesOf, tokenOf } from "../support/node-fault-kit.js";
import type { NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import type { TcpForwarder } from "../support/tcp-forwarder.js";
import { waitFor } from "../support/watch-recorder.js";

/*
 * F-N6 (reliability.md §4.1): a rolling restart of all three nodes while clients churn. One node
 * at a time is taken out of rotation (clients stop picking it, the WebSocket balancer sends new
 * connections elsewhere), sent SIGTERM (it drains: streams end with DRAINING, sockets close with
 * 4000, their sessions enter the reconnect grace), and replaced by a new process on new ports, as a
 * deploy behind a load balancer does. Meanwhile careful clients (attached streams, client-driver.ts)
 * and SDK clients over the WebSocket bridge (each behind a TCP forwarder playing the balancer)
 * reconnect to another node and reclaim their sessions, and a churning client joins and leaves
 * rooms through whichever nodes are up.
 *
 * Invariant (I1, I3; "0 spurious leave/join with grace"): no client that stayed is ever seen to
 * leave or join again by any watcher (recorder watchers follow their drained node to another with
 * `resume_from`); every one of them reclaimed its session (same connection id) at least once; each
 * churn session is seen to join at most once and leave at most once, exactly as its client did;
 * after the last restart every watcher's view equals GetPresence, with no recorder violation, and no
 * ghost remains after TTL + reaper interval.
 */

const ROOMS = ["/roll/a", "/roll/b"] as const;
const ENV = {
  PRESENCE_SESSION_TTL_MS: "3000",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "500",
  PRESENCE_NODE_REFRESH_MS: "400",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_RECONNECT_GRACE_MS: "2000",
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "2000",
};

describe("F-N6 rolling restart of three nodes under churn", () => {
  it("clients reclaim their sessions on other nodes: no spurious leave or join; churn seen exactly; views equal the truth", async (ctx) => {
    const s = faultScope(ctx);
    const redis = await s.redis();
    const env = { ...ENV, PRESENCE_REDIS_URL: redis.url };
    const live: NodeProcess[] = await s.nodes(3, env);
    const draining = new Set<NodeProcess>();
    const up = () => live.filter((n) => !draining.has(n));
    const pickAny = () => {
      const u = up();
      return u[Math.floor(Math.random() * u.length)]!;
    };
    const rec = await s.record(live, ROOMS);

    // Careful clients, spread over the nodes; each reconnects to any node that is up.
    const stayers: DriverClient[] = [];
    for (let i = 0; i < 6; i++) {
      const user = `st${i}`;
      const first = live[i % 3]!;
      let used = false;
      stayers.push(await startDriverClient(s, { user, token: await tokenOf(user), rooms: i % 2 ? [ROOMS[0]] : ROOMS, pick: () => (used ? pickAny() : ((used = true), first)) }));
    }
    // SDK clients over the WebSocket bridge, each behind its own balancer.
    const webs: { user: string; fwd: TcpForwarder; node: NodeProcess; cids: string[] }[] = [];
    for (let i = 0; i < 3; i++) {
      const user = `web${i}`;
      const node = live[i]!;
      const fwd = await s.forwarder(Number(new URL(node.wsUrl).port));
      const client = createPresenceClient({ transport: "websocket", url: `ws://127.0.0.1:${fwd.port}/ws`, token: await tokenOf(user), webSocket: WebSocket, reconnect: { baseMs: 50, capMs: 300 }, visibility: false });
      s.defer(() => client.close());
      const room = client.join(ROOMS[1]);
      await room.ready;
      const entry = { user, fwd, node, cids: [room.self!.connectionId] };
      room.on("view", () => {
        const cid = room.self?.connectionId;
        if (cid && cid !== entry.cids.at(-1)) entry.cids.push(cid);
      });
      webs.push(entry);
    }
    await rec.waitConverged(s.truth(live[0]!, ROOMS), 5_000);
    const t0 = Date.now();

    // Churn: join a room, stay a moment, leave; through any node that is up; every outcome kept.
    const churned: { cid: string; room: string; joined: boolean; left: boolean }[] = [];
    let churning = true;
    const churner = (async () => {
      const token = await tokenOf("churn");
      for (let i = 0; churning; i++) {
        const room = ROOMS[i % 2]!;
        const c = s.client(pickAny().rpcUrl, token);
        try {
          const j = await c.join({ room }, { timeoutMs: 3_000 });
          const entry = { cid: j.session!.connectionId, room, joined: true, left: false };
          churned.push(entry);
          await sleep(150);
          await s.client(pickAny().rpcUrl, token).leave({ sessionId: j.session!.sessionId, room }, { timeoutMs: 3_000 });
          entry.left = true;
        } catch {
          // a node went away under the call: the next round goes elsewhere
        }
        await sleep(50);
      }
    })();

    // The rolling restart: one node at a time.
    const timings: string[] = [];
    for (let k = 0; k < 3; k++) {
      const old = live[k]!;
      const next = await s.node(env);
      live.push(next);
      draining.add(old);
      for (const w of webs) if (w.node === old) {
        w.fwd.route(Number(new URL(next.wsUrl).port)); // the balancer takes the node out of rotation
        w.node = next;
      }
      const t = Date.now();
      await old.stop();
      for (const w of rec.watchers) if (w.rpcUrl === old.rpcUrl) await rec.reattach(w.index, pickAny().rpcUrl);
      await waitFor(() => stayers.every((d) => d.settled() && d.node() !== old), 10_000, `every client off node ${k}`);
      timings.push(`node ${k}: drained and clients back in ${Date.now() - t} ms`);
      await sleep(300);
    }
    churning = false;
    await churner;
    await sleep(3_000 + 300); // a TTL and a few reaper rounds: no ghost, no late leave
    const survivor = up()[0]!;
    await rec.waitConverged(s.truth(survivor, ROOMS), 5_000);
    console.log(`F-N6: ${timings.join("; ")}; ${churned.length} churn sessions; reclaims ${stayers.map((d) => d.reattaches()).join("/")}`);

    // Stayers: never seen to leave or join again; each reclaimed its own session (same connection).
    for (const d of stayers) {
      expect([d.user, d.rejoins(), d.cids.length]).toEqual([d.user, 0, 1]);
      for (const w of rec.watchers) {
        expect(messagesOf(rec, w.index).filter((m) => m.connectionId === d.cid() && m.receivedAtMs >= t0 && (m.eventKind === "joined" || m.eventKind === "left")), `${d.user} on watcher ${w.index}`).toEqual([]);
      }
    }
    expect(stayers.every((d) => d.reattaches() >= 1)).toBe(true);
    for (const w of webs) {
      expect(w.cids, `${w.user} kept its connection`).toHaveLength(1);
      for (const x of rec.watchers) expect(messagesOf(rec, x.index).filter((m) => m.connectionId === w.cids[0] && m.receivedAtMs >= t0 && m.eventKind !== undefined && m.eventKind !== "updated")).toEqual([]);
    }
    // Churn: at most one join and one leave per session and watcher; a session whose Leave
    // succeeded is gone; the final views hold exactly the stayers.
    for (const c of churned) {
      const watchers = rec.watchers.filter((w) => w.room === c.room).map((w) => w.index);
      for (const i of watchers) {
        expect(rec.joinsFor(c.cid)[i]!, `joins of ${c.cid} on ${i}`).toBeLessThanOrEqual(1);
        expect(rec.leavesFor(c.cid)[i]!, `leaves of ${c.cid} on ${i}`).toBeLessThanOrEqual(1);
      }
    }
    expect(churned.filter((c) => c.left).length).toBeGreaterThan(5);
    expect(rec.violations().flat()).toEqual([]);
    expect(stayers.flatMap((d) => d.streams().flatMap((w) => w.recorder.violations))).toEqual([]);
    const t = await s.truth(survivor, ROOMS)();
    expect(Object.keys(t.get(ROOMS[0])!.users).sort()).toEqual(stayers.map((d) => d.user).sort());
    expect(Object.keys(t.get(ROOMS[1])!.users).sort()).toEqual([...stayers.filter((d) => d.rooms.includes(ROOMS[1])).map((d) => d.user), ...webs.map((w) => w.user)].sort());
  });
});
