/**
 * Structured JSON logs, one line per entry on stderr, with a level threshold. Never pass tokens,
 * session ids or resume secrets in fields.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l + "\n")): Logger {
  const log = (l: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] < ORDER[level]) return;
    const err = fields?.err instanceof Error ? { err: { name: fields.err.name, message: fields.err.message } } : {};
    write(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...fields, ...err }));
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}
