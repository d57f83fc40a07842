import type * as grpc from '@grpc/grpc-js';

/** Settles when a server call ends early: its caller cancelled, or the stream closed or failed. */
export function callGone(call: grpc.ServerWritableStream<unknown, unknown>): Promise<'gone'> {
  return new Promise<'gone'>((resolve) => {
    for (const event of ['cancelled', 'close', 'error']) call.once(event, () => resolve('gone'));
  });
}

/**
 * Writes chunks to a server-streaming call, each as soon as it is produced; a slow reader pauses the producer
 * (backpressure). When the call goes away first (`gone`), the producer's iterator is returned, so its `finally`
 * blocks run: a handler suspended at a yield ends at once, one still computing at its next yield, and a mesh stream
 * being relayed cancels its callee.
 */
export async function pumpToCall<T>(
  chunks: AsyncIterable<T>,
  call: grpc.ServerWritableStream<unknown, T>,
  gone: Promise<'gone'> = callGone(call),
): Promise<void> {
  const iterator = chunks[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const pending = iterator.next();
      pending.catch(() => undefined); // a failure after the call went away has no one to go to
      const next = await Promise.race([pending, gone]);
      if (next === 'gone') return;
      if (next.done) {
        finished = true;
        return;
      }
      if (call.cancelled) return;
      if (!call.write(next.value)) {
        const resumed = await Promise.race([
          new Promise<'drain'>((resolve) => call.once('drain', () => resolve('drain'))),
          gone,
        ]);
        if (resumed === 'gone') return;
      }
    }
  } finally {
    if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
