import { describe, expect, it } from 'vitest';
import { matchesLabels, parseLabelSelector } from '../../src/core/label-selector.js';

const select = (text: string, labels: Record<string, string>) => {
  const parsed = parseLabelSelector(text);
  if (!parsed.ok) throw parsed.error;
  return matchesLabels(parsed.value, labels);
};

describe('label selectors', () => {
  const labels = { zone: 'eu-1', model: 'large', 'example.com/tier': 'gold' };

  it.each([
    ['', true],
    ['zone=eu-1', true],
    ['zone==eu-1', true],
    ['zone=us-1', false],
    ['zone!=us-1', true],
    ['gpu!=yes', true],
    ['zone in (us-1, eu-1)', true],
    ['zone notin (eu-1)', false],
    ['model', true],
    ['!model', false],
    ['!gpu', true],
    ['example.com/tier=gold,zone=eu-1', true],
    ['example.com/tier=gold,zone=us-1', false],
    ['zone in (eu-1,us-1),model in (large,xl),!gpu', true],
  ])('%j matches: %s', (text, expected) => {
    expect(select(text, labels)).toBe(expected);
  });

  it.each([
    ['zone in (eu-1', /unbalanced/],
    ['zone in eu-1)', /unbalanced/],
    ['zone=eu-1,,model', /empty/],
    ['zone=eu-1,', /empty/],
    ['bad key=x', /use key=value/],
    ['zone=has space', /use key=value/],
    ['-zone=x', /not a valid label key/],
    ['zone=-x', /not a valid label value/],
    ['zone in ()', /value list is empty/],
    ['a=b=c', /not a valid label value/],
    ['x'.repeat(5000), /longer than/],
  ])('rejects %j', (text, message) => {
    const parsed = parseLabelSelector(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(message);
  });
});
