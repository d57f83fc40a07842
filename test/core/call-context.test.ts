import { describe, expect, it } from 'vitest';
import { contextFromMetadata, deadlineFromMetadata } from '../../src/core/call-context.js';

describe('the propagated context', () => {
  it.each([
    ['1764806400000', 1_764_806_400_000],
    ['0', 0],
    ['1000000000000000', 1_000_000_000_000_000],
  ])('reads the absolute deadline %s', (value, deadline) => {
    expect(deadlineFromMetadata(value)).toBe(deadline);
  });

  it.each([undefined, '', '17648064000001234', '-1', '+1', '1e5', '0x1f', ' 12', '12 ', '1.5', 'soon'])(
    'ignores the deadline %j (not 1 to 16 digits)',
    (value) => {
      expect(deadlineFromMetadata(value)).toBeUndefined();
    },
  );

  it('starts an empty chain when none was sent, and keeps only what could be SPIFFE IDs of one that was', () => {
    expect(contextFromMetadata(() => undefined)).toEqual({ chain: [] });
    const sent: Record<string, string> = {
      'x-agentmesh-chain': `spiffe://mesh.local/agent/a,evil,spiffe://mesh.local/agent/${'b'.repeat(2048)},spiffe://mesh.local/agent/c`,
      'x-agentmesh-priority': 'batch',
    };
    expect(contextFromMetadata((key) => sent[key])).toEqual({
      chain: ['spiffe://mesh.local/agent/a', 'spiffe://mesh.local/agent/c'],
      priority: 'batch',
    });
  });
});
