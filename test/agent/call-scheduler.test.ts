import { describe, expect, it } from 'vitest';
import { CallScheduler, priorityClass } from '../../src/agent/call-scheduler.js';
import { Code, type MeshError } from '../../src/core/errors.js';

/** Admission of an agent's calls: places, a priority queue, deadlines, refusals with a retry-after hint. */
describe('CallScheduler', () => {
  it('runs up to its limit at once and starts waiting calls by priority class, then arrival', async () => {
    const scheduler = new CallScheduler({ agent: 'llm-1', limit: 1, queueLimit: 10 });
    const release = await scheduler.admit();
    const started: string[] = [];
    const waiting = [
      ['batch-1', 'batch'],
      ['default-1', 'default'],
      ['interactive-1', 'interactive'],
      ['batch-2', 'batch'],
      ['interactive-2', 'interactive'],
    ].map(([name, priority]) =>
      scheduler.admit(priorityClass(priority)).then((done) => {
        started.push(name!);
        done(); // hands the place to the next waiting call
      }),
    );
    expect(scheduler.waiting).toBe(5);
    release();
    await Promise.all(waiting);
    expect(started).toEqual(['interactive-1', 'interactive-2', 'default-1', 'batch-1', 'batch-2']);
    expect(scheduler.size).toBe(0);
  });

  it('drops a waiting call whose deadline passes, without running it', async () => {
    const scheduler = new CallScheduler({ agent: 'llm-1', limit: 1 });
    const release = await scheduler.admit();
    const late = scheduler.admit('interactive', Date.now() + 20);
    await expect(late).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED, message: /did not run/ });
    expect(scheduler.waiting).toBe(0);
    await expect(scheduler.admit('default', Date.now() - 1)).rejects.toMatchObject({
      code: Code.DEADLINE_EXCEEDED,
    });
    release();
    expect(scheduler.size).toBe(0);
  });

  it('lets a call leave the queue when its caller goes away', async () => {
    const scheduler = new CallScheduler({ agent: 'llm-1', limit: 1 });
    const release = await scheduler.admit();
    const caller = new AbortController();
    const waiting = scheduler.admit('default', Infinity, caller.signal);
    caller.abort();
    await expect(waiting).rejects.toMatchObject({ code: Code.CANCELLED });
    expect(scheduler.waiting).toBe(0);
    release();
  });

  it('refuses with RESOURCE_EXHAUSTED and a retry-after hint when the queue is full', async () => {
    const scheduler = new CallScheduler({ agent: 'llm-1', limit: 2, queueLimit: 1 });
    const first = await scheduler.admit();
    const second = await scheduler.admit();
    const queued = scheduler.admit();
    const refused = (await scheduler.admit().catch((error: unknown) => error)) as MeshError;
    expect(refused.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/agent "llm-1" is busy: 2 calls run and 1 wait/);
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(50);
    first();
    (await queued)();
    second();
    expect(scheduler.size).toBe(0);
  });

  it('runs everything at once without a limit', async () => {
    const scheduler = new CallScheduler({ agent: 'a', limit: 0 });
    const dones = await Promise.all(Array.from({ length: 100 }, () => scheduler.admit()));
    expect(scheduler.size).toBe(100);
    dones.forEach((done) => {
      done();
      done(); // a second call changes nothing
    });
    expect(scheduler.size).toBe(0);
  });

  it('keeps waiting a call whose deadline is beyond what a timer can hold (~24.8 days)', async () => {
    const scheduler = new CallScheduler({ agent: 'llm-1', limit: 1 });
    const release = await scheduler.admit();
    let outcome = 'waiting';
    const far = scheduler.admit('default', Date.now() + 30 * 24 * 3600_000).then(
      (done) => {
        outcome = 'started';
        return done;
      },
      (error: MeshError) => void (outcome = `failed: ${error.message}`),
    );
    // An overflowing timer would fire after 1 ms.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(outcome).toBe('waiting');
    release();
    (await far)?.();
    expect(outcome).toBe('started');
  });
});
