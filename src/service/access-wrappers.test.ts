import { describe, expect, it } from "vitest";
import { createFakeClock } from "../core/fake-clock.js";
import { ANONYMOUS, withOrigin, type Caller } from "../core/identity.js";
import { PresenceError } from "../core/presence-error.js";
import type { WatchItem } from "../fanout/fanout-hub.js";
import { testAccessGuard } from "../../test/support/access.js";
import { guardedWatch } from "./access-wrappers.js";

/**
 * guardedWatch (an iterator object since issue 16 item 6, no longer an async generator) keeps the
 * generator's steps: right checked and a `watches` unit held on the first next(), released exactly
 * once however the stream ends, nothing done for a stream returned before it started.
 */
const caller: Caller = withOrigin(ANONYMOUS, { address: "192.0.2.1", connection: "rpc:1" });
const ENV = { PRESENCE_ANON_QUOTA_WATCHES: "1", PRESENCE_ANONYMOUS_RIGHTS: JSON.stringify({ "/open/**": ["watch"] }) };
const item = { kind: "snapshot" } as unknown as WatchItem;

/** An inner stream: one item, then waits for its signal and ends (as the hub does at an abort) or throws its reason. */
function inner(opened: AbortSignal[], o: { throwReason?: boolean } = {}) {
  return async function* (signal: AbortSignal): AsyncGenerator<WatchItem> {
    opened.push(signal);
    yield item;
    if (!signal.aborted) await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    if (o.throwReason) throw signal.reason;
  };
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: unknown) => (e instanceof PresenceError ? e.reason : String(e)),
  );

describe("guardedWatch", () => {
  it("holds one watches unit while open and releases it once, whether the stream ends, is returned or its signal aborts", async () => {
    const clock = createFakeClock();
    const access = testAccessGuard(clock, ENV);
    const opened: AbortSignal[] = [];
    const abort = new AbortController();
    const a = guardedWatch(access, clock, caller, "/open/a", abort.signal, inner(opened));
    expect(await a.next()).toEqual({ done: false, value: item });
    // The unit is held: a second watch of the same caller is refused, and opens nothing.
    const b = guardedWatch(access, clock, caller, "/open/b", new AbortController().signal, inner(opened));
    expect(await code(b.next())).toBe("QUOTA_EXCEEDED");
    expect(await b.next()).toEqual({ done: true, value: undefined });
    expect(opened).toHaveLength(1);
    // Abort releases it at once (before the inner stream has even ended).
    const pending = a.next();
    abort.abort();
    const c = guardedWatch(access, clock, caller, "/open/c", new AbortController().signal, inner(opened));
    expect(await c.next()).toEqual({ done: false, value: item });
    expect(await pending).toEqual({ done: true, value: undefined });
    // Still exactly one unit held (c's): released once, not twice, by a's abort and end.
    const d = guardedWatch(access, clock, caller, "/open/d", new AbortController().signal, inner(opened));
    expect(await code(d.next())).toBe("QUOTA_EXCEEDED");
    // return() ends c and releases its unit.
    expect(await c.return(undefined)).toEqual({ done: true, value: undefined });
    const e = guardedWatch(access, clock, caller, "/open/e", new AbortController().signal, inner(opened));
    expect(await e.next()).toEqual({ done: false, value: item });
    await e.return(undefined);
  });

  it("a stream returned before its first next() checks nothing, holds nothing and never opens", async () => {
    const clock = createFakeClock();
    const access = testAccessGuard(clock, ENV);
    const opened: AbortSignal[] = [];
    const a = guardedWatch(access, clock, caller, "/closed/a", new AbortController().signal, inner(opened));
    expect(await a.return(undefined)).toEqual({ done: true, value: undefined });
    expect(await a.next()).toEqual({ done: true, value: undefined });
    expect(opened).toHaveLength(0);
    const b = guardedWatch(access, clock, caller, "/open/b", new AbortController().signal, inner(opened));
    expect(await b.next()).toEqual({ done: false, value: item }); // the unit was free
    await b.return(undefined);
  });

  it("a room without the watch right is refused on the first next(), holding nothing", async () => {
    const clock = createFakeClock();
    const access = testAccessGuard(clock, ENV);
    const opened: AbortSignal[] = [];
    const a = guardedWatch(access, clock, caller, "/closed/a", new AbortController().signal, inner(opened));
    expect(await code(a.next())).toBe("ROOM_FORBIDDEN");
    expect(opened).toHaveLength(0);
    const b = guardedWatch(access, clock, caller, "/open/b", new AbortController().signal, inner(opened));
    expect(await b.next()).toEqual({ done: false, value: item });
    await b.return(undefined);
  });

  it("ends with TOKEN_EXPIRED when the caller's token expires, and releases its unit", async () => {
    const clock = createFakeClock();
    const access = testAccessGuard(clock, ENV);
    const opened: AbortSignal[] = [];
    const expiring: Caller = { ...caller, tokenExpiresAtMs: clock.now() + 1_000 };
    const a = guardedWatch(access, clock, expiring, "/open/a", new AbortController().signal, inner(opened, { throwReason: true }));
    expect(await a.next()).toEqual({ done: false, value: item });
    const ended = code(a.next());
    clock.advance(1_000);
    expect(await ended).toBe("TOKEN_EXPIRED");
    const b = guardedWatch(access, clock, caller, "/open/b", new AbortController().signal, inner(opened));
    expect(await b.next()).toEqual({ done: false, value: item });
    await b.return(undefined);
  });
});
