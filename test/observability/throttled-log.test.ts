import { afterEach, describe, expect, it, vi } from 'vitest';
import { ThrottledLog } from '../../src/observability/throttled-log.js';

/** A logger that keeps what it is told. */
function recordingLogger() {
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  return {
    lines,
    logger: { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ msg, fields }) } as never,
  };
}

describe('throttled log', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first warning at once, then one count per period while a flood lasts, then the first again', async () => {
    vi.useFakeTimers({ now: 0 });
    const { lines, logger } = recordingLogger();
    const log = new ThrottledLog({ logger, message: 'event refused', periodMs: 10_000 });
    // 25 s of warnings, one every 10 ms.
    for (let i = 0; i < 2_500; i += 1) {
      log.warn({ n: i });
      await vi.advanceTimersByTimeAsync(10);
    }
    await vi.advanceTimersByTimeAsync(20_000);
    log.warn({ n: 'later' });
    log.close();
    expect(lines).toEqual([
      { msg: 'event refused', fields: { n: 0 } },
      {
        msg: 'event refused: 999 more in the last 10.0 s (the latest shown)',
        fields: { n: 999, repeated: 999 },
      },
      {
        msg: 'event refused: 1000 more in the last 10.0 s (the latest shown)',
        fields: { n: 1999, repeated: 1000 },
      },
      {
        msg: 'event refused: 500 more in the last 10.0 s (the latest shown)',
        fields: { n: 2499, repeated: 500 },
      },
      { msg: 'event refused', fields: { n: 'later' } },
    ]);
  });

  it('logs what it still counts when it is closed, and stops its timer', async () => {
    vi.useFakeTimers({ now: 0 });
    const { lines, logger } = recordingLogger();
    const log = new ThrottledLog({ logger, message: 'event refused' });
    log.warn({ n: 1 });
    log.warn({ n: 2 });
    log.warn({ n: 3 });
    await vi.advanceTimersByTimeAsync(1_500);
    log.close();
    expect(lines.map((line) => line.msg)).toEqual([
      'event refused',
      'event refused: 2 more in the last 1.5 s (the latest shown)',
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
