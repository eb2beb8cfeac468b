import { pino, type DestinationStream } from "pino";

/**
 * Structured logs: a thin factory over pino. One JSON object per line on stderr (or the injected
 * `write`), for example
 * `{"level":"warn","time":"2026-11-23T06:16:26.000Z","pid":1,"reqId":"…","method":"Join","msg":"…"}`:
 * `level` is the label, `time` ISO 8601, `msg` the message, and an `err` field is serialised by
 * pino's error serialiser (type, message, stack, cause).
 *
 * Secrets never reach the output: tokens, authorization headers, session ids, resume secrets,
 * passwords and JWTs are replaced with "[redacted]" by pino's `redact` wherever they appear at the
 * top level of the fields or one level down (`{ req: { sessionId } }`). That is the safety net;
 * callers still pass only what a log reader needs (public connection ids, not session ids).
 *
 * Writes are synchronous, so the last lines before `process.exit` are not lost.
 */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The logging calls the server uses; `child` adds fields to every line (request id, method). */
export interface Logger {
  trace(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines carry `bindings` too. */
  child(bindings: Record<string, unknown>): Logger;
  /** True when lines of `level` are written (to skip building expensive fields). */
  enabled(level: Level): boolean;
}

/** Field names whose values are never logged (matched at the top level and one level down). */
export const REDACTED_KEYS = [
  "authorization",
  "Authorization",
  "token",
  "accessToken",
  "access_token",
  "jwt",
  "secret",
  "password",
  "resumeSecret",
  "resume_secret",
  "sessionId",
  "session_id",
  "jwtSecret",
  "cookie",
] as const;

const REDACT_PATHS = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]).concat(REDACTED_KEYS.map((k) => `*.headers.${k}`));

/**
 * Creates the process logger at `level`. `write` receives each line without its newline (tests
 * collect them); the default is stderr.
 */
export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const destination: DestinationStream = write
    ? { write: (s: string) => write(s.endsWith("\n") ? s.slice(0, -1) : s) }
    : pino.destination({ dest: 2, sync: true });
  const root = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    destination,
  );
  return wrap(root);
}

type Level = Exclude<LogLevel, "silent">;

function wrap(p: pino.Logger): Logger {
  const at = (l: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (fields === undefined) p[l](msg);
    else p[l](fields, msg);
  };
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (bindings) => lazyChild(p, bindings),
    enabled: (l) => p.isLevelEnabled(l),
  };
}

/**
 * A child made on its first written line: the RPC layer makes one per call (request id), and a
 * pino child costs ~10 µs (bindings are serialised and redacted up front), while most calls log
 * nothing at the default level. A class (methods on the prototype): an open watch stream keeps its
 * call's logger, so the per-call object is ~40 bytes instead of seven closures (~600 B).
 */
class LazyChild implements Logger {
  private real: Logger | undefined;
  constructor(
    private readonly parent: pino.Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}
  private write(l: Level, msg: string, fields?: Record<string, unknown>): void {
    if (this.parent.isLevelEnabled(l)) (this.real ??= wrap(this.parent.child(this.bindings)))[l](msg, fields);
  }
  trace(msg: string, fields?: Record<string, unknown>): void {
    this.write("trace", msg, fields);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write("error", msg, fields);
  }
  child(more: Record<string, unknown>): Logger {
    return new LazyChild(this.parent, { ...this.bindings, ...more });
  }
  enabled(l: LogLevel): boolean {
    return this.parent.isLevelEnabled(l);
  }
}

function lazyChild(parent: pino.Logger, bindings: Record<string, unknown>): Logger {
  return new LazyChild(parent, bindings);
}
