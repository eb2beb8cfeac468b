/**
 * Out of file descriptors (issue 11: EMFILE handled, not swallowed). When a process runs out of
 * descriptors, libuv accepts and closes pending connections with a reserved descriptor, silently,
 * and everything else that needs a descriptor fails: Redis reconnects, the admin port, log files.
 * So the server watches its own descriptors: every `intervalMs` it counts `/proc/self/fd` against
 * the soft RLIMIT_NOFILE (`/proc/self/limits`), and when fewer than `reserve` are free it pauses
 * accepting new client connections (RPC port: accepted and closed at once; WebSocket port: upgrades
 * refused with 503), which leaves the reserve for the store and existing clients; it resumes once
 * twice the reserve is free again. Real accept errors (EMFILE, ENFILE) are counted by the ports.
 * Linux only (elsewhere `exhausted()` stays false).
 */
import { readdirSync, readFileSync } from "node:fs";

export interface FdWatchdog {
  /** True while fewer than `reserve` descriptors are free. */
  exhausted(): boolean;
  /** The soft limit read at start (0 when unknown). */
  readonly limit: number;
  stop(): void;
}

export interface FdWatchdogOptions {
  reserve: number;
  intervalMs: number;
  /** Called when accepting pauses (true) or resumes (false), with the descriptors open then. */
  onChange?: (exhausted: boolean, open: number) => void;
  /** Tests: the descriptor counter and the limit (default: /proc/self). */
  openCount?: () => number;
  softLimit?: number;
}

export function createFdWatchdog(o: FdWatchdogOptions): FdWatchdog {
  const limit = o.softLimit ?? readSoftLimit();
  const count = o.openCount ?? (() => readdirSync("/proc/self/fd").length);
  let exhausted = false;
  const tick = () => {
    if (limit <= 0) return;
    let open: number;
    try {
      open = count();
    } catch {
      return; // /proc unavailable: nothing to watch
    }
    const free = limit - open;
    if (!exhausted && free < o.reserve) {
      exhausted = true;
      o.onChange?.(true, open);
    } else if (exhausted && free >= 2 * o.reserve) {
      exhausted = false;
      o.onChange?.(false, open);
    }
  };
  const timer = limit > 0 ? setInterval(tick, o.intervalMs) : undefined;
  timer?.unref();
  return {
    exhausted: () => exhausted,
    limit,
    stop: () => clearInterval(timer),
  };
}

/** Soft "Max open files" of this process, 0 when it cannot be read or is unlimited. */
function readSoftLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? 0 : Number(soft) || 0;
  } catch {
    return 0;
  }
}
