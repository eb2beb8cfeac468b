import { randomBytes, randomFillSync } from "node:crypto";
import { createAdminServer } from "./admin/admin-server.js";
import { composeAccess } from "./compose-access.js";
import { createDemoTokenIssuer } from "./auth/demo-tokens.js";
import type { AccessGuard } from "./service/access-guard.js";
import { createTokenVerifier } from "./auth/verify-token.js";
import type { Config } from "./config.js";
import { systemClock, type Clock } from "./core/clock.js";
import { createIdSource, pooledRandomBytes, type IdSource } from "./core/ids.js";
import { draining, PresenceError } from "./core/presence-error.js";
import type { FanoutHub } from "./fanout/fanout-hub.js";
import { createAppHubs } from "./compose-fanout.js";
import { startAppHistory } from "./history/app-history.js";
import type { History } from "./history/start-history.js";
import { createReadinessMonitor } from "./health/readiness-monitor.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics/registry.js";
import { createPresenceService, type PresenceService } from "./service/presence-service.js";
import { createMemoryPresenceStore } from "./store/memory/memory-store.js";
import { createRedisPresenceStore } from "./store/redis/create-redis-store.js";
import { SCRIPT_NAMES } from "./store/redis/scripts.js";
import type { PresenceStore } from "./store/presence-store.js";
import { createHealthRoutes } from "./transport/connect/health-routes.js";
import { startBackendFeatures } from "./backend-features.js";
import { createAdminService } from "./service/admin-service.js";
import { createCallAdmission } from "./transport/http/call-admission.js";
import { createFdWatchdog } from "./transport/http/fd-watchdog.js";
import { createRpcPort } from "./compose-rpc.js";
import type { WsEngineName } from "./transport/ws/ws-engine.js";
import { createWsBridge } from "./transport/ws/ws-server.js";
import { createScopeService } from "./service/scope-service.js";
import { createRoomService } from "./service/room-service.js";
import { awayPolicyOf, endedRoomOf, udpHeartbeats } from "./compose-seeds.js";
import { startNodeLoops } from "./compose-loops.js";
import { createMemoryScopeStore } from "./store/memory/memory-scope-store.js";
import { createMemoryRoomLifecycle } from "./store/memory/memory-room-lifecycle.js";

/**
 * The composition root: the only module that knows the concrete store, hub, transports and
 * metrics. `startApp` builds everything, starts the background loops and binds the ports;
 * `App.close` is the graceful shutdown. Each area is put together by a helper beside it (only
 * this file picks the store): compose-access.ts (rights, quotas, connection limits),
 * compose-fanout.ts (the hubs), compose-rpc.ts (the RPC port), compose-loops.ts (background
 * loops), compose-seeds.ts (UDP heartbeats, room ends), backend-features.ts, history/app-history.ts.
 * The shutdown:
 *
 * 0. readiness drains: /readyz answers 503 and every gRPC health Watch receives NOT_SERVING;
 *    the WebSocket bridge stops accepting and closes every socket with 4000 "draining"; their
 *    sessions are unbound (reconnect grace), so clients reclaim them on another node;
 * 1. the hub ends every watch stream with `unavailable` / DRAINING (clients reconnect with
 *    `resume_from`); health Watch streams end with OK after their NOT_SERVING (waited for, at
 *    most 1 s); in-flight unary calls finish (no connect-node shutdown signal: it costs every call
 *    O(open calls), see below);
 * 2. the RPC server stops accepting, sends GOAWAY to HTTP/2 sessions and closes idle HTTP/1.1
 *    sockets; whatever is still open at `shutdownDeadlineMs` is destroyed;
 * 3. the reaper stops, the store closes, the admin port closes last (so /readyz answers 503 while
 *    draining).
 */
export interface App {
  readonly rpcPort: number;
  readonly adminPort: number;
  /** The WebSocket bridge's bound port (path `/ws`). */
  readonly wsPort: number;
  /** The UDP heartbeat port, when PRESENCE_UDP_PORT is set. */
  readonly udpPort: number | undefined;
  /** The WebSocket engine serving it (PRESENCE_WS_ENGINE): `uws` or `ws`. */
  readonly wsEngine: WsEngineName;
  readonly store: PresenceStore;
  readonly hub: FanoutHub;
  readonly service: PresenceService;
  /** Rights and quotas: the one place every entry point asks (DECISIONS.md, docs/security.md). */
  readonly access: AccessGuard;
  readonly metrics: Metrics;
  /** The durable history (PRESENCE_HISTORY): its store once ready, and the write queue. */
  readonly history: History;
  /** This process's node id (PRESENCE_NODE_ID). */
  readonly nodeId: string;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

export interface AppDeps {
  clock?: Clock;
  ids?: IdSource;
  logger?: Logger;
  /** A store to use instead of the embedded memory store (the Redis store plugs in here). */
  store?: PresenceStore;
}

export async function startApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const clock = deps.clock ?? systemClock;
  const ids = deps.ids ?? createIdSource(pooledRandomBytes((into) => randomFillSync(into)));
  const log = deps.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  // A commit-feed listener (history, webhooks) that throws is counted and logged; the call goes on.
  const commitListenerFailed = (err: unknown) => {
    metrics.loopErrors.inc({ loop: "commit_feed" });
    log.error("commit feed listener failed", { err });
  };
  const useRedis = !deps.store && (config.redis.url !== undefined || config.redis.clusterSeeds.length > 0 || config.redis.sentinel !== undefined);
  const awayPolicy = awayPolicyOf(config);
  if (useRedis) for (const script of SCRIPT_NAMES) metrics.scriptReloads.inc({ script }, 0);
  const redisStore = useRedis
    ? await createRedisPresenceStore(
        config.redis,
        {
          clock,
          ids,
          timings: config.timings,
          limits: config.limits,
          nodeId: config.nodeId,
          awayPolicy,
          onCommitListenerError: (err) => commitListenerFailed(err),
          observer: {
            scriptReload: (script) => metrics.scriptReloads.inc({ script }),
            redisError: (kind) => metrics.redisErrors.inc({ kind }),
            commandDuration: (_command, seconds) => metrics.redisCommandDuration.observe(seconds),
            subscriberReconnect: () => metrics.subscriberReconnects.inc(),
            subscriberStarved: () => metrics.pubsubProbeTimeouts.inc(),
            published: (kind) => metrics.eventsPublished.inc({ kind }),
            reassert: (n) => metrics.reassertedSessions.inc(n),
            heartbeatLag: (seconds) => metrics.heartbeatLag.observe(seconds),
            revived: (n) => metrics.revivedSessions.inc(n),
            storeRecovered: (outageMs, reviveMs) =>
              log.warn("store writes work again: reaper paused and expired sessions revivable for a while", { outageMs, reviveMs }),
          },
        },
      )
    : undefined;
  for (const warning of (await redisStore?.configWarnings()) ?? []) log.warn(warning);
  // Scopes and managed-room records live with the sessions: the Redis store keeps its own, the embedded store one here.
  const roomLimits = { maxParticipants: config.rooms.maxParticipants, defaultIdleTimeoutMs: config.rooms.defaultIdleTimeoutMs, tombstoneMs: config.rooms.tombstoneMs };
  const memoryScopes = redisStore ? undefined : createMemoryScopeStore();
  const memoryLifecycle = redisStore ? undefined : createMemoryRoomLifecycle({ clock, limits: roomLimits });
  const lifecycle = redisStore?.roomLifecycle(roomLimits) ?? memoryLifecycle!;
  const scopeStore = redisStore?.scopeStore ?? memoryScopes!;
  const store: PresenceStore =
    deps.store ??
    redisStore ??
    createMemoryPresenceStore({
      clock,
      ids,
      timings: config.timings,
      limits: config.limits,
      onPublish: (kind) => metrics.eventsPublished.inc({ kind }),
      nodeId: config.nodeId,
      onHeartbeatLag: (seconds) => metrics.heartbeatLag.observe(seconds),
      scopes: memoryScopes,
      awayPolicy,
      managedRooms: memoryLifecycle,
      onCommitListenerError: (err) => commitListenerFailed(err),
    });
  // History starts in the background (the embedded database takes seconds): never on the ready path.
  // (`access` is made below; the check runs only when a history read comes in.)
  const hist = startAppHistory(config, { clock, log, metrics, store, authorizeRoom: (caller, op, room) => access.authorize(caller, op, room) });
  const { hub, userHub } = createAppHubs({ config, clock, metrics, log, store, lastActive: (ids) => scopeStore.lastActive(ids) });
  const { access, memory, limiter, clientAddress, warnEvery } = composeAccess({ config, metrics, log, clock, store, embeddedStore: !useRedis && !deps.store });
  const udp = udpHeartbeats(config, clock, metrics, log);
  const service = createPresenceService({
    udp: udp && { keyFor: (id) => udp.keys.keyFor(id), port: () => udp.port() },
    awayScopeThresholds: config.awayScopeOverrides.map(([, ms]) => ms),
    lastActive: (ids) => scopeStore.lastActive(ids),
    managedRooms: { getRoom: (room) => lifecycle.getRoom(room), touchRoom: (room) => lifecycle.touchRoom(room) },
    durableStatus: hist.durableStatus,
    restoreStatus: hist.restoreStatus,
    sessions: store,
    rooms: store,
    users: store,
    access,
    memory,
    hub,
    userHub,
    clock,
    ids,
    limits: config.limits,
    timings: config.timings,
    onHeartbeat: () => metrics.heartbeats.inc(),
    onCoalesced: (kind) => metrics.coalesced.inc({ kind }),
    onDeferredError: (err) => {
      if (!(err instanceof PresenceError)) {
        metrics.loopErrors.inc({ loop: "deferred_update" });
        log.warn("deferred update failed", { err });
      }
    },
  });

  // Demo tokens (PRESENCE_DEMO) are signed with the configured HS256 secret, else with an
  // ephemeral one made now (tokens then die with the process; the demo page asks for new ones).
  // Development only (config refuses PRESENCE_DEMO with a real key): always an ephemeral secret.
  const demoSecret = config.demo.tokens ? randomBytes(32).toString("base64url") : undefined;
  const verify = createTokenVerifier({
    hs256Secret: config.auth.jwtSecret ?? demoSecret,
    jwksFile: config.auth.jwksFile,
    jwksUrl: config.auth.jwksUrl,
    jwksTimeoutMs: config.access.jwks.timeoutMs,
    jwksCacheMaxAgeMs: config.access.jwks.cacheMaxAgeMs,
    jwksCooldownMs: config.access.jwks.cooldownMs,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    allowAnonymous: config.auth.allowAnonymous,
    cacheSize: config.auth.tokenCacheSize,
    clockToleranceSec: config.auth.clockToleranceSec,
    capabilityClaim: config.access.claims.capability,
    roomRolesClaim: config.access.claims.roomRoles,
    maxClaimEntries: config.access.claims.maxEntries,
  });
  // One admission for every call on the RPC port (Connect/gRPC/gRPC-Web and the plain routes):
  // token, client address, and the per-caller request-rate quota.
  const admit = createCallAdmission({ verify, access, clientAddress, onAuthFailure: (reason) => metrics.authFailures.inc({ reason }) });
  // Readiness (design I7): one monitor feeds /readyz, the gRPC health service and presence_ready.
  const readiness = createReadinessMonitor({
    check: () => store.ping(),
    clock,
    intervalMs: config.readiness.intervalMs,
    timeoutMs: config.readiness.timeoutMs,
    onResult: (serving) => metrics.ready.set(serving ? 1 : 0),
    onTransition: (serving, detail) => (serving ? log.info("ready") : log.warn("not ready", { detail })),
    onLoopError: (err) => {
      metrics.loopErrors.inc({ loop: "readiness" });
      log.error("readiness listener failed", { err });
    },
  });
  const health = createHealthRoutes(readiness);
  const scopeService = createScopeService({
    scopes: scopeStore,
    users: store,
    clock,
    limits: config.limits,
    timings: config.timings,
    otherWatchers: () => {
      const c = hub.watcherCount();
      return c.full + c.counts + userHub.count();
    },
    // Rights on scopes are room-kind resources named `scope:<name>` (docs/security.md).
    authorize: async (caller, op, scopes) => {
      for (const [i, s] of scopes.entries()) await access.authorize(caller, op, `scope:${s}`, scopes.length === 1 ? "scope" : `scopes[${i}]`);
    },
    visibleUsers: (caller, ids) => access.visibleUsers(caller, "status.read", ids),
    holdWatch: (caller) => access.hold(caller, "watches"),
  });
  const roomService = createRoomService({
    lifecycle,
    clock,
    authorize: (caller, op, room) => access.authorize(caller, op, room),
    counts: async (room) => (await store.getView(room, { includeMembers: false })).counts,
    evict: (room, ended) => store.endRoom(room, ended),
    awayChanged: (room, ms) => store.roomAwayChanged(room, ms),
    limits: { ...config.limits, ...roomLimits },
  });
  const adminService = createAdminService({
    rooms: store,
    sessions: store,
    nodes: store,
    nodeId: config.nodeId,
    ...config.admin,
    onKick: (how, detail) => log.info(how === "kick" ? "admin: session kicked" : "admin: node purged", detail),
  });
  // Issue 14: BackendService, backend events (feed and webhooks) and their metrics.
  const backends = startBackendFeatures(config, { store, presence: service, clock, ids, metrics, log, access });
  const conn = config.access.connections;
  const rpc = createRpcPort({ config, clock, log, metrics, admit, limiter, warnEvery, service, scopeService, roomService, adminService, health, hist, backends, hub });
  const fds = createFdWatchdog({
    reserve: conn.fdReserve,
    intervalMs: conn.fdCheckMs,
    onChange: (exhausted, open) => {
      rpc.setAcceptPaused(exhausted);
      metrics.acceptPaused.set({ port: "ws" }, exhausted ? 1 : 0);
      log.warn(exhausted ? "almost out of file descriptors: new client connections are refused until some are free" : "file descriptors available again: accepting", { open, limit: fds.limit, reserve: conn.fdReserve });
    },
  });

  const ws = createWsBridge({
    service,
    broadcast: { send: backends.broadcast, roomWatchers: (room) => hub.roomWatchers(room) },
    clientAddress,
    limiter,
    maxConnections: conn.wsMax,
    acceptPaused: () => fds.exhausted(),
    headersTimeoutMs: conn.headersTimeoutMs,
    keepAliveTimeoutMs: conn.keepAliveTimeoutMs,
    onRefused: (reason) => metrics.connectionsRefused.inc({ port: "ws", reason }),
    chargeRequest: (caller) => access.chargeRequest(caller),
    endedRoom: endedRoomOf({ clock, getRoom: (room) => lifecycle.getRoom(room), getView: (room, o) => store.getView(room, o) }),
    hub,
    verify,
    limits: config.limits,
    timings: config.timings,
    clock,
    metrics,
    logger: log,
    ...config.ws,
    maxMessageBytes: config.maxRequestBytes,
    demo: {
      dir: config.demo.dir,
      tokenIssuer: demoSecret === undefined ? undefined : createDemoTokenIssuer({ secret: demoSecret, issuer: config.auth.issuer, audience: config.auth.audience, ttlSec: config.demo.tokenTtlSec }),
    },
  });

  const admin = createAdminServer({
    metrics,
    // A real probe per request, fed into the monitor (draining answers at once).
    ready: () => readiness.probe(),
    readyTimeoutMs: config.readiness.timeoutMs + 1_000,
  });
  metrics.bindGauges({
    sessions: () => store.stats().sessions,
    rooms: () => store.stats().rooms,
    // The bridge's room broadcasters are hub watchers too: WebSocket watchers are its sockets' watches.
    watchers: () => ({ connect: { ...hub.watchersByTransport().connect, users: userHub.count(), scopes: scopeService.watchCount() }, ws: ws.watchCount() }),
    wsMaxBufferedBytes: () => ws.maxBufferedBytes(),
    connections: () => ({ ws: ws.connectionCount(), ...rpc.connectionsByProtocol() }),
    // Both bindings go through service.bind; a session bound by a socket and a stream at once counts as ws.
    boundSessions: () => {
      const onSockets = ws.sessionCount();
      return { ws: onSockets, stream: Math.max(0, service.attachedCount() - onSockets) };
    },
    watchedRooms: () => hub.roomCount(),
    subscriberUp: redisStore ? () => redisStore.subscriberHealthy() : undefined,
  });

  const loops = startNodeLoops({
    clock,
    config,
    metrics,
    log,
    reap: () => store.reap(),
    refreshBound: async () => {
      const r = await service.refreshAttached();
      await backends.refresh();
      await store.announceNode();
      return r;
    },
    sweepAway: () => store.sweepAway(),
    idleRooms: (limit) => lifecycle.idleRooms(limit),
    endIdle: (room) => roomService.endIdle(room),
  });

  await readiness.probe(); // health answers from the first call on
  await memory.check();
  // In the node registry before serving, so `presence nodes` lists this node at once.
  await store.announceNode().catch((err) => log.warn("node registry: announce failed", { err }));
  const rpcAddr = await rpc.listen(config.rpcPort, config.host);
  const adminAddr = await admin.listen(config.adminPort, config.adminHost);
  const wsAddr = await ws.listen(config.ws.port, config.host);
  const udpPort = await udp?.listen((sessionId, activity) => service.udpHeartbeat(sessionId, activity));
  log.info("presence server listening", { nodeId: config.nodeId, host: config.host, rpcPort: rpcAddr.port, adminPort: adminAddr.port, wsPort: wsAddr.port, udpPort, reflection: config.reflection, wsEngine: ws.engine, store: deps.store ? "custom" : useRedis ? (config.redis.sentinel ? "redis-sentinel" : config.redis.url ? "redis" : "redis-cluster") : "memory", history: config.history.mode });

  let closing: Promise<void> | undefined;
  return {
    rpcPort: rpcAddr.port,
    adminPort: adminAddr.port,
    wsPort: wsAddr.port,
    udpPort,
    wsEngine: ws.engine,
    store,
    hub,
    service,
    access,
    metrics,
    history: hist.history,
    nodeId: config.nodeId,
    close() {
      closing ??= (async () => {
        const closeStarted = clock.now();
        readiness.drain(); // /readyz 503, health NOT_SERVING before anything closes
        log.info("draining", { deadlineMs: config.shutdownDeadlineMs });
        await ws.close();
        await udp?.close();
        const drainingError = draining();
        hub.close(drainingError);
        userHub.close(drainingError);
        backends.endStreams(drainingError); // Track streams: their presences enter the reconnect grace
        scopeService.close(drainingError);
        await health.settled(Math.min(1_000, config.shutdownDeadlineMs)); // health watchers got NOT_SERVING
        await rpc.close(config.shutdownDeadlineMs);
        // Sessions of the ended streams enter the reconnect grace in the store before it closes,
        // so clients reclaiming them on another node find them (F-N2).
        await service.drain();
        await backends.drain(clock.now() + config.shutdownDeadlineMs); // announces and delivers what this node committed
        loops.stopReaping();
        memory.stop();
        fds.stop();
        // Rows of everything above (the last leaves included) are written before the store closes.
        // What is left of the shutdown deadline (at most 2 s) goes to writing the queued rows.
        await hist.close(Math.max(0, Math.min(2_000, config.shutdownDeadlineMs - (clock.now() - closeStarted) - 200)));
        readiness.close();
        loops.stopRefresh();
        await store.close();
        await admin.close();
        log.info("stopped");
      })();
      return closing;
    },
  };
}
