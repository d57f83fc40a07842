import { describe, expect, it } from 'vitest';
import { clockSkew } from '../../src/cli/check-command.js';

describe('`agent-mesh check` clock skew', () => {
  it.each([
    // Their clock, when we sent, when the answer came; half the round trip is not counted against it.
    [10_500, 10_000, 11_000, 'ok'],
    [11_900, 10_000, 11_000, 'ok'],
    [12_600, 10_000, 11_000, 'warn'],
    [10_000 - 2_000, 10_000, 10_010, 'warn'],
    [10_000 + 61_000, 10_000, 10_010, 'fail'],
  ])('their %i between %i and %i is %s', (theirs, sent, received, status) => {
    expect(clockSkew(theirs, sent, received).status).toBe(status);
  });
});
