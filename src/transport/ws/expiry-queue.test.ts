import { describe, expect, it } from "vitest";
import { createFakeClock } from "../../core/fake-clock.js";
import { createExpiryQueue } from "./expiry-queue.js";

/** Items are `{ id, gone }`; the queue reports expired ids in order. */
function setup() {
  const clock = createFakeClock(0);
  const expired: number[] = [];
  const q = createExpiryQueue<{ id: number; gone: boolean }>({ clock, expired: (x) => expired.push(x.id), isGone: (x) => x.gone });
  return { clock, expired, q };
}

describe("expiry queue", () => {
  it("expires every item at its deadline, in deadline order, with one timer", () => {
    const { clock, expired, q } = setup();
    for (const [id, at] of [[1, 500], [2, 100], [3, 300], [4, 100], [5, 900]] as const) q.add({ id, gone: false }, at);
    expect(clock.pending()).toBe(1);
    clock.advance(99);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired.sort()).toEqual([2, 4]);
    clock.advance(400);
    expect(expired).toEqual([2, 4, 3, 1]);
    clock.advance(400);
    expect(expired).toEqual([2, 4, 3, 1, 5]);
    expect(q.size()).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it("re-arms for an item added with an earlier deadline", () => {
    const { clock, expired, q } = setup();
    q.add({ id: 1, gone: false }, 1_000);
    q.add({ id: 2, gone: false }, 10);
    clock.advance(10);
    expect(expired).toEqual([2]);
    expect(clock.pending()).toBe(1);
  });

  it("skips items that went away, and compacts once they are half of it", () => {
    const { clock, expired, q } = setup();
    const items = Array.from({ length: 100 }, (_, i) => ({ id: i, gone: false }));
    for (const x of items) q.add(x, 1_000 + x.id);
    for (const x of items.slice(0, 49)) {
      x.gone = true;
      q.forget();
    }
    expect(q.size()).toBe(100);
    items[49]!.gone = true;
    q.forget();
    expect(q.size()).toBe(50);
    clock.advance(2_000);
    expect(expired).toEqual(items.slice(50).map((x) => x.id));
  });

  it("waits in steps for deadlines beyond setTimeout's range", () => {
    const { clock, expired, q } = setup();
    const far = 2 ** 31 + 5_000;
    q.add({ id: 1, gone: false }, far);
    clock.advance(2 ** 31);
    expect(expired).toEqual([]);
    clock.advance(5_000);
    expect(expired).toEqual([1]);
  });

  it("expires nothing after stop", () => {
    const { clock, expired, q } = setup();
    q.add({ id: 1, gone: false }, 10);
    q.stop();
    clock.advance(100);
    expect(expired).toEqual([]);
    expect(clock.pending()).toBe(0);
  });
});
