import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../../gen/grpc/health/v1/health_pb.js";
import { PresenceService } from "../../../gen/presence/v1/presence_pb.js";

/**
 * The standard gRPC health service (`grpc.health.v1.Health`, vendored proto) on the RPC port, so
 * Kubernetes `grpc:` probes, grpc-health-probe and service meshes work without the admin port.
 * Translation only: the state is the readiness monitor's (`serving()` / `onChange`).
 *
 * Known services: `""` (the whole server) and `presence.v1.PresenceService`; both follow readiness.
 * - Check: SERVING or NOT_SERVING; an unknown service fails with NOT_FOUND (field `service`).
 * - Watch: the current status at once, then every change. An unknown service gets SERVICE_UNKNOWN
 *   and the call stays open (as the gRPC health spec says), ending only with the client or the
 *   server.
 * - List: every known service with its status.
 *
 * Shutdown: `drain()` of the monitor flips every Watch to NOT_SERVING; each stream sends that and
 * then ends with OK (clients retry, elsewhere). `settled()` resolves once every Watch has ended, so
 * the server can wait for that message to go out before it aborts the remaining calls.
 * The auth interceptor lets this service through without a token (`PUBLIC_SERVICES`).
 */
export interface ServingSource {
  serving(): boolean;
  /** True once the server is shutting down (NOT_SERVING for good). */
  draining(): boolean;
  onChange(listener: (serving: boolean) => void): () => void;
}

export interface HealthRoutes {
  /** Registers the Health service on a Connect router. */
  register(router: ConnectRouter): ConnectRouter;
  /** Resolves when no Watch call is open, or after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void>;
}

/** The services the health service reports, `""` being the whole server. */
export const HEALTH_SERVICES: readonly string[] = ["", PresenceService.typeName];

export function createHealthRoutes(source: ServingSource): HealthRoutes {
  const known = new Set(HEALTH_SERVICES);
  const open = new Set<Promise<void>>();
  const status = () => (source.serving() ? Status.SERVING : Status.NOT_SERVING);

  async function* watch(service: string, signal: AbortSignal) {
    if (!known.has(service)) {
      yield { status: Status.SERVICE_UNKNOWN };
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      return;
    }
    let wake: (() => void) | undefined;
    let changed = false;
    const off = source.onChange(() => {
      changed = true;
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    open.add(finished);
    try {
      let sent = status();
      yield { status: sent };
      // NOT_SERVING after a drain is the last word: end the stream (OK) so clients move on.
      while (!source.draining() && !signal.aborted) {
        if (!changed) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        changed = false;
        if (signal.aborted) return;
        const now = status();
        if (now !== sent) {
          sent = now;
          yield { status: now };
        }
      }
    } finally {
      off();
      signal.removeEventListener("abort", onAbort);
      open.delete(finished);
      done();
    }
  }
  return {
    register(router) {
      return router.service(Health, {
        check(req) {
          if (!known.has(req.service)) throw unknownService(req.service);
          return { status: status() };
        },
        watch: (req, ctx) => watch(req.service, ctx.signal),
        list() {
          const statuses = Object.fromEntries(HEALTH_SERVICES.map((s) => [s, { status: status() }]));
          return { statuses };
        },
      });
    },
    async settled(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs).unref()));
      await Promise.race([Promise.all([...open]), bound]);
      clearTimeout(timer);
    },
  };
}

function unknownService(service: string): ConnectError {
  const names = HEALTH_SERVICES.map((s) => JSON.stringify(s)).join(", ");
  return new ConnectError(`service: unknown service ${JSON.stringify(service)} (known: ${names})`, Code.NotFound);
}
