import { describe, expect, it } from 'vitest';
import { Code, truncateInput } from '../../src/core/errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, validateEvent, validateEventTopic } from '../../src/pubsub/event.js';

const segments = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`).join('.');

/** The checks a publisher makes before it accepts an event and a subscriber makes again when one arrives. */
describe('event checks', () => {
  const event = { id: 'e-1', topic: 'tasks.created', payload: Buffer.from('{}') };

  it('accepts an event with an id, a concrete topic and a payload within the limit', () => {
    expect(validateEvent(event).ok).toBe(true);
    expect(validateEvent({ ...event, payload: Buffer.alloc(DEFAULT_MAX_PAYLOAD_BYTES) }).ok).toBe(true);
  });

  it('names what is wrong: no id, an invalid topic, a payload over the limit', () => {
    const noId = validateEvent({ ...event, id: '' });
    expect(noId.ok || noId.error).toMatchObject({ code: Code.INVALID_ARGUMENT, message: /has no id/ });
    for (const topic of [
      '',
      'tasks..x',
      'tasks.*',
      'tasks.>',
      '.tasks',
      `tasks.${'a'.repeat(65)}`,
      segments(17),
    ]) {
      const invalid = validateEvent({ ...event, topic });
      expect(invalid.ok || invalid.error, topic).toMatchObject({
        code: Code.INVALID_ARGUMENT,
        message: /^invalid topic "/,
      });
    }
    for (const [field, value] of [
      ['id', 'i'.repeat(257)],
      ['key', 'k'.repeat(257)],
      ['contentType', `text/${'x'.repeat(124)}`],
    ] as const) {
      const long = validateEvent({ ...event, [field]: value });
      expect(long.ok || long.error, field).toMatchObject({
        code: Code.INVALID_ARGUMENT,
        message: /at most \d+ are allowed/,
      });
      expect(
        validateEvent({ ...event, [field]: value.slice(0, field === 'contentType' ? 128 : 256) }).ok,
      ).toBe(true);
    }
    const big = validateEvent({ ...event, payload: Buffer.alloc(11) }, 10);
    expect(big.ok || big.error).toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      message: /^event payload of 11 bytes is over the limit of 10 bytes/,
    });
  });

  it('lets a dead-letter topic have one segment more than the topic it names, and no more', () => {
    expect(validateEventTopic(segments(16)).ok).toBe(true);
    expect(validateEventTopic(segments(17)).ok).toBe(false);
    expect(validateEventTopic(`dead-letter.${segments(16)}`).ok).toBe(true);
    expect(validateEventTopic(`dead-letter.${segments(17)}`).ok).toBe(false);
  });

  it('quotes at most 128 characters of a topic, however long', () => {
    const invalid = validateEventTopic('a.'.repeat(500_000));
    expect(invalid.ok || invalid.error.message).toMatch(/^invalid topic "(a\.){64}…": /);
  });
});

describe('truncateInput', () => {
  it('keeps short input as it is and cuts long input with an ellipsis', () => {
    expect(truncateInput('tasks.created')).toBe('tasks.created');
    expect(truncateInput('x'.repeat(128))).toBe('x'.repeat(128));
    expect(truncateInput('x'.repeat(129))).toBe(`${'x'.repeat(128)}…`);
    expect(truncateInput('abcdef', 3)).toBe('abc…');
  });

  it('never cuts a character made of two UTF-16 units in half', () => {
    expect(truncateInput('ab😀cd', 3)).toBe('ab…');
    expect(truncateInput('ab😀cd', 4)).toBe('ab😀…');
  });
});
