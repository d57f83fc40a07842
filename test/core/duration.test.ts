import { describe, expect, it } from 'vitest';
import { formatApproximateDuration, formatDuration, parseDuration } from '../../src/core/duration.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['7d', 604_800_000],
    ['87600h', 315_360_000_000],
    ['1.5s', 1_500],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '24', 'h', '5x', '-1h', '0s', '1h 30m', 'abc'])(
    'rejects %j with the accepted forms',
    (text) => {
      expect(() => parseDuration(text)).toThrow(/duration/);
    },
  );

  it('formats in the largest whole unit', () => {
    expect(formatDuration(86_400_000)).toBe('1d');
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(1_500)).toBe('1500ms');
  });

  it.each([
    [0, '0s'],
    [-5, '0s'],
    [12_999, '12s'],
    [245_000, '4m05s'],
    [86_280_000, '23h58m'],
    [47 * 3_600_000, '47h00m'],
    [315_359_926_646, '3649d'],
  ])('shows %i ms for people as %s', (ms, text) => {
    expect(formatApproximateDuration(ms)).toBe(text);
  });
});
