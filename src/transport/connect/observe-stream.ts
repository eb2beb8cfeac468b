/**
 * Wraps a response stream to see how it ends, without an async generator: the interceptors
 * (metrics, request log) wrap every streamed response, and an open watch stream keeps each wrapper
 * alive. An async generator with its frame and request queue held ~700 B per stream per wrapper;
 * this forwarding object holds ~100 B. `onError` sees a failure of the inner stream and returns
 * what to rethrow; `onEnd` runs once, when the stream completes, fails or is returned early (the
 * client went away). The inner iterator's `throw`/`return` keep their meaning.
 */
export interface StreamObserver {
  onError?(e: unknown): unknown;
  onEnd(failed: boolean): void;
}

export function observeStream<T>(inner: AsyncIterable<T>, o: StreamObserver): AsyncIterable<T> {
  return new ObservedIterator(inner, o);
}

/**
 * The iterable and its one iterator in one object (a response stream is iterated once): an open
 * stream holds this object, not also an iterable with a closure.
 */
class ObservedIterator<T> implements AsyncIterator<T>, AsyncIterable<T> {
  private ended = false;
  private readonly it: AsyncIterator<T>;
  constructor(
    inner: AsyncIterable<T>,
    private readonly o: StreamObserver,
  ) {
    this.it = inner[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private end(failed: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.o.onEnd(failed);
  }

  /** The error to rethrow for a failure of the inner stream (which has then ended). */
  private failed(e: unknown): unknown {
    const mapped = this.o.onError ? this.o.onError(e) : e;
    this.end(true);
    return mapped;
  }

  private fail(e: unknown): never {
    throw this.failed(e);
  }

  // Not an async method: a stream waiting for its next item then holds a promise, not a suspended frame.
  next(): Promise<IteratorResult<T>> {
    let p: Promise<IteratorResult<T>>;
    try {
      p = this.it.next();
    } catch (e) {
      return Promise.reject(this.failed(e));
    }
    return p.then(
      (r) => {
        if (r.done === true) this.end(false);
        return r;
      },
      (e: unknown) => {
        throw this.failed(e);
      },
    );
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    try {
      return (await this.it.return?.(value)) ?? { done: true, value: value as T };
    } finally {
      this.end(false);
    }
  }

  async throw(e?: unknown): Promise<IteratorResult<T>> {
    if (this.it.throw === undefined) return this.fail(e);
    try {
      const r = await this.it.throw(e);
      if (r.done === true) this.end(false);
      return r;
    } catch (err) {
      return this.fail(err);
    }
  }
}

/**
 * `open()`'s items through `map`, errors through `mapError`, opened on the first `next()` (like an
 * async generator's body), again without a generator: the RPC routes translate every watch stream
 * this way, and an idle watch then holds one small object instead of a suspended generator.
 */
export function mapStream<T, U>(open: () => AsyncIterable<T>, map: (item: T) => U, mapError: (e: unknown) => unknown): AsyncIterable<U> {
  return new MappedIterator(open, map, mapError);
}

/** Iterable and iterator in one object, as ObservedIterator. */
class MappedIterator<T, U> implements AsyncIterator<U>, AsyncIterable<U> {
  private it: AsyncIterator<T> | undefined;
  constructor(
    private readonly open: () => AsyncIterable<T>,
    private readonly map: (item: T) => U,
    private readonly mapError: (e: unknown) => unknown,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<U>> {
    let p: Promise<IteratorResult<T>>;
    try {
      this.it ??= this.open()[Symbol.asyncIterator]();
      p = this.it.next();
    } catch (e) {
      return Promise.reject(this.mapError(e));
    }
    return p.then(
      (r) => {
        if (r.done === true) return r;
        try {
          return { done: false, value: this.map(r.value) };
        } catch (e) {
          throw this.mapError(e);
        }
      },
      (e: unknown) => {
        throw this.mapError(e);
      },
    );
  }

  async return(value?: unknown): Promise<IteratorResult<U>> {
    await this.it?.return?.(value);
    return { done: true, value: value as U };
  }

  async throw(e?: unknown): Promise<IteratorResult<U>> {
    if (this.it?.throw === undefined) throw e;
    const r = await this.it.throw(e);
    return r.done === true ? r : { done: false, value: this.map(r.value) };
  }
}
