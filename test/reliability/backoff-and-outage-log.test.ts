import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../../src/core/backoff.js';
import { parseControlPlaneAddresses } from '../../src/control-plane/addresses.js';
import { MeshError, Code } from '../../src/core/errors.js';
import { OutageLog } from '../../src/observability/outage-log.js';
import { TokenBuckets } from '../../src/core/token-buckets.js';

/** A logger that keeps what it is told. */
function recordingLogger() {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const log = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, msg, fields });
  return { lines, logger: { warn: log('warn'), info: log('info') } as never };
}

describe('reconnect backoff', () => {
  it('doubles from 100 ms to at most 5 s, jittered within each step, and starts over after a reset', () => {
    const low = new Backoff({}, () => 0);
    const high = new Backoff({}, () => 0.999_999);
    const lows = Array.from({ length: 10 }, () => low.next());
    const highs = Array.from({ length: 10 }, () => high.next());
    expect(lows.map(Math.round)).toEqual([50, 100, 200, 400, 800, 1_600, 2_500, 2_500, 2_500, 2_500]);
    expect(highs.map(Math.round)).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000, 5_000]);
    expect(low.attempts).toBe(10);
    low.reset();
    expect(low.attempts).toBe(0);
    expect(Math.round(low.next())).toBe(50);
  });

  it('never grows past its cap however many failures it counts', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 30_000 });
    for (let i = 0; i < 10_000; i += 1) expect(backoff.next()).toBeLessThanOrEqual(30_000);
  });
});

describe('outage log', () => {
  const unreachable = new MeshError(Code.UNAVAILABLE, 'connect ECONNREFUSED 127.0.0.1:7400');
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs an outage once, then summaries at growing intervals, then once when it is over', async () => {
    vi.useFakeTimers({ now: 0 });
    const { lines, logger } = recordingLogger();
    const log = new OutageLog({ logger, subject: 'control plane', meanwhile: 'serving' });
    // 100 s of failures, one every 100 ms: a thousand attempts.
    while (Date.now() < 100_000) {
      log.failed('127.0.0.1:7400', unreachable);
      await vi.advanceTimersByTimeAsync(100);
    }
    log.succeeded('127.0.0.1:7400');
    expect(log.unreachable).toBe(true); // not over until no failure follows for a while
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log.unreachable).toBe(false);
    expect(lines.map((line) => line.msg)).toEqual([
      'control plane unreachable; serving',
      'control plane still unreachable after 10 s (101 failed attempts); still retrying',
      'control plane still unreachable after 30 s (301 failed attempts); still retrying',
      'control plane still unreachable after 70 s (701 failed attempts); still retrying',
      'control plane reachable again after 100 s (1000 failed attempts)',
    ]);
    expect(lines[0]!.fields).toMatchObject({
      at: '127.0.0.1:7400',
      reason: `UNAVAILABLE: ${unreachable.message}`,
    });
    expect(lines.at(-1)!.fields).toMatchObject({ at: '127.0.0.1:7400', attempts: 1000 });
  });

  it('says at once that it moved when another replica answers during an outage', () => {
    const { lines, logger } = recordingLogger();
    const log = new OutageLog({ logger, subject: 'control plane', meanwhile: 'serving' });
    log.failed('a:7400', unreachable);
    log.failed('a:7400', unreachable);
    log.succeeded('b:7400');
    expect(log.unreachable).toBe(false);
    expect(lines.map((line) => line.msg)).toEqual([
      'control plane unreachable; serving',
      'now using another control plane replica after 0.0 s (2 failed attempts)',
    ]);
    expect(lines[1]!.fields).toMatchObject({ at: 'b:7400' });
  });

  it('treats answers between failures as the same outage, not as a recovery each time', async () => {
    vi.useFakeTimers({ now: 0 });
    const { lines, logger } = recordingLogger();
    const log = new OutageLog({ logger, subject: 'etcd', meanwhile: 'serving reads' });
    for (let i = 0; i < 50; i += 1) {
      log.failed('etcd', unreachable);
      await vi.advanceTimersByTimeAsync(500);
      log.succeeded('etcd'); // a read that needs no quorum
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(lines.map((line) => line.msg)).toEqual([
      'etcd unreachable; serving reads',
      'etcd still unreachable after 10 s (11 failed attempts); still retrying',
      'etcd still unreachable after 30 s (31 failed attempts); still retrying',
    ]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lines.at(-1)!.msg).toBe('etcd reachable again after 50 s (50 failed attempts)');
  });

  it('says when it moves to another replica, and nothing while all is well', () => {
    const { lines, logger } = recordingLogger();
    const log = new OutageLog({ logger, subject: 'control plane', meanwhile: 'serving' });
    for (let i = 0; i < 100; i += 1) log.succeeded('a:7400');
    log.succeeded('b:7400');
    expect(lines.map((line) => line.msg)).toEqual(['now using another control plane replica']);
    expect(log.unreachable).toBe(false);
  });
});

describe('control-plane addresses', () => {
  it('reads one address, a comma-separated list or an array, in order', () => {
    expect(parseControlPlaneAddresses('127.0.0.1:7400')).toEqual({ ok: true, value: ['127.0.0.1:7400'] });
    expect(parseControlPlaneAddresses(' cp-a:7400, cp-b:7400 ')).toEqual({
      ok: true,
      value: ['cp-a:7400', 'cp-b:7400'],
    });
    expect(parseControlPlaneAddresses(['[::1]:7400', 'dns:///cp.example:7400'])).toEqual({
      ok: true,
      value: ['[::1]:7400', 'dns:///cp.example:7400'],
    });
  });

  it.each([
    ['', /no control-plane address given/],
    ['cp-a:7400,', /has an empty entry/],
    ['cp-a', /invalid control-plane address "cp-a": use host:port/],
    ['cp-a:0', /with a port from 1 to 65535/],
    ['cp-a:7400,cp-a:7400', /names a replica twice/],
  ])('refuses %j with a reason', (value, reason) => {
    const parsed = parseControlPlaneAddresses(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe(Code.INVALID_ARGUMENT);
      expect(parsed.error.message).toMatch(reason);
    }
  });
});

describe('token buckets', () => {
  it('refill over time up to their capacity, and forget the least recently used beyond their number', () => {
    const buckets = new TokenBuckets(2);
    const a = buckets.get('a', 5, 0, 0.001);
    a.level = 0;
    expect(buckets.get('a', 5, 2_000, 0.001).level).toBe(2);
    expect(buckets.get('a', 5, 100_000, 0.001).level).toBe(5);
    buckets.get('b', 5, 0, 0.001).level = 0;
    buckets.get('c', 5, 0, 0.001); // 'a' was used longest ago: forgotten
    expect(buckets.size).toBe(2);
    expect(buckets.get('b', 5, 0, 0.001).level).toBe(0);
  });
});
