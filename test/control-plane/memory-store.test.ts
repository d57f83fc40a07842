import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoreEvent } from '../../src/control-plane/store.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';

describe('memory store', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // Two timers in all: one for every lease's expiry, and the tick by which the store notices its own pauses.
  it('expires ten thousand leases with one timer, keeping the ones kept alive', async () => {
    vi.useFakeTimers();
    const store = new MemoryStore();
    const events: StoreEvent[] = [];
    await store.watch('agents/', store.currentRevision, {
      onEvents: (batch) => events.push(...batch),
      onError: () => undefined,
    });
    const leases: string[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      const { lease } = await store.grantLease(1_000);
      await store.put(`agents/${i}`, 'x', { lease });
      leases.push(lease);
    }
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(600);
    for (let i = 0; i < 10_000; i += 2) await store.keepAlive(leases[i]!);
    await vi.advanceTimersByTimeAsync(500); // the odd ones are now past their TTL
    const expired = events.filter((event) => event.type === 'delete');
    expect(expired).toHaveLength(5_000);
    expect(
      expired.every(
        (event) =>
          event.type === 'delete' &&
          event.cause === 'lease-expired' &&
          Number(event.key.split('/')[1]) % 2 === 1,
      ),
    ).toBe(true);
    expect((await store.list('agents/')).items).toHaveLength(5_000);
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await store.list('agents/')).items).toHaveLength(0);
    expect(await store.keepAlive(leases[0]!)).toBe(false);
    await store.close();
  });

  it('starts revisions after those of any earlier process, so a resumed watch cannot mistake one for the other', async () => {
    const before = new MemoryStore();
    const old = await before.put('k', 'v');
    await before.close();
    const after = new MemoryStore({ clock: { now: () => Date.now() + 1 } });
    expect(await after.put('k', 'v')).toBeGreaterThan(old);
    await after.close();
  });

  it('moves a key to a new lease without losing it when the old lease ends', async () => {
    const store = new MemoryStore();
    const first = await store.grantLease(60_000);
    const second = await store.grantLease(60_000);
    await store.put('k', 'v1', { lease: first.lease });
    await store.put('k', 'v2', { lease: second.lease });
    await store.revokeLease(first.lease);
    expect((await store.get('k'))?.value).toBe('v2');
    await store.revokeLease(second.lease);
    expect(await store.get('k')).toBeUndefined();
    await store.close();
  });

  it('replays missed events to a watch that starts from a past revision, and refuses a compacted one', async () => {
    const store = new MemoryStore({ historySize: 3 });
    const revisions: number[] = [];
    for (let i = 1; i <= 5; i += 1) revisions.push(await store.put(`k/${i}`, String(i)));
    const seen: number[] = [];
    const handlers = {
      onEvents: (batch: StoreEvent[]) => seen.push(...batch.map((e) => e.revision)),
      onError: () => undefined,
    };
    await store.watch('k/', revisions[2]!, handlers);
    expect(seen).toEqual([revisions[3], revisions[4]]);
    await expect(store.watch('k/', revisions[0]!, handlers)).rejects.toThrow(/compacted/);
    expect(await store.create('k/1', 'again')).toBe(false);
    await store.close();
  });
});
