/**
 * A token bucket (pure; time comes in as `nowMs`). Used for the Track stream's read rate and the
 * Broadcast rate as well as for what it was written for:
 *
 * The per-socket frame rate limit of the WebSocket bridge (fault F-V8: one client flooding frames
 * must not starve the others): a token bucket that refills `ratePerSec` tokens per second and
 * holds at most `burst`. One token per frame, taken before the frame is decoded. The defaults
 * (250 frames/s, burst 500) sit above what the SDK sends even on a 144 Hz display (it sends the
 * cursor at most once per animation frame, debounces typing, heartbeats every 30 s), so only a
 * misbehaving client runs dry; the bridge then closes it with 4006 "rate limited" (reconnect with
 * backoff). A flood is thousands of frames per second.
 */
export interface FrameBucket {
  /** Tokens left (fractional while refilling). */
  frameTokens: number;
  /** When the bucket was last refilled (ms since the epoch). */
  frameTokensAtMs: number;
}

/** Takes one token from `b` at `nowMs`; false when the bucket is empty (the frame is over the limit). */
export function takeFrameToken(b: FrameBucket, nowMs: number, ratePerSec: number, burst: number): boolean {
  const elapsed = nowMs - b.frameTokensAtMs;
  if (elapsed > 0) {
    b.frameTokens = Math.min(burst, b.frameTokens + (elapsed * ratePerSec) / 1000);
    b.frameTokensAtMs = nowMs;
  }
  if (b.frameTokens < 1) return false;
  b.frameTokens -= 1;
  return true;
}
