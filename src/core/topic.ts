import { Code, fail, ok, truncateInput, type Result } from './errors.js';

const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

/** The first segment of dead-letter topics: an event that failed on `tasks.created` goes to `dead-letter.tasks.created`. */
export const DEAD_LETTER_PREFIX = 'dead-letter';

/** The most segments a topic or pattern has (a dead-letter topic may have one more: see `validateEventTopic`). */
export const MAX_TOPIC_SEGMENTS = 16;

/**
 * Checks a topic: dot-separated segments of 1-64 letters, digits, `_` and `-` (e.g. `tasks.created`), no
 * wildcards, at most `maxSegments` segments ({@link MAX_TOPIC_SEGMENTS} by default). INVALID_ARGUMENT otherwise.
 */
export function validateTopic(topic: string, maxSegments = MAX_TOPIC_SEGMENTS): Result<string> {
  // Splitting at most one segment past the limit keeps the check cheap for a topic of a million dots.
  const segments = topic.split('.', maxSegments + 1);
  if (topic === '' || segments.length > maxSegments || !segments.every((s) => SEGMENT.test(s))) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid topic "${truncateInput(topic)}": use up to ${maxSegments} dot-separated segments of 1-64 letters, digits, "_" and "-", without wildcards, e.g. tasks.created`,
    );
  }
  return ok(topic);
}

/**
 * Checks a subscription pattern: like a topic, but a segment may be `*` (exactly one segment) and the last
 * segment may be `>` (one or more remaining segments).
 */
export function validatePattern(pattern: string): Result<string> {
  const segments = pattern.split('.', MAX_TOPIC_SEGMENTS + 1);
  const validSegment = (segment: string, index: number) =>
    segment === '*' || (segment === '>' && index === segments.length - 1) || SEGMENT.test(segment);
  if (pattern === '' || segments.length > MAX_TOPIC_SEGMENTS || !segments.every(validSegment)) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid topic pattern "${truncateInput(pattern)}": use up to ${MAX_TOPIC_SEGMENTS} dot-separated segments, "*" for one segment and a final ">" for the rest, e.g. tasks.* or tasks.>`,
    );
  }
  return ok(pattern);
}

/** Whether a valid pattern matches a valid topic. */
export function matchesTopic(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i += 1) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== '*' && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * Whether every topic `inner` can match is also matched by `outer`: a policy that allows subscribing to
 * `tasks.>` covers a subscription to `tasks.*`, but one that allows `tasks.*` does not cover `tasks.>`.
 */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const i = inner.split('.');
  for (let k = 0; k < o.length; k += 1) {
    if (o[k] === '>') return i.length > k;
    if (k >= i.length) return false;
    if (i[k] === '>') return false;
    if (o[k] !== '*' && o[k] !== i[k]) return false;
  }
  return o.length === i.length;
}

/**
 * Whether some topic matches both patterns (a topic is a pattern without wildcards): a subscription to `tasks.*`
 * and a publisher's scope of `tasks.>` or `*.created` overlap; `tasks.*` and `jobs.>` do not.
 */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i += 1) {
    const done = i >= x.length;
    const otherDone = i >= y.length;
    if (done || otherDone) return done && otherDone;
    // `>` takes one or more segments: whatever the other has left from here on (at least this one) fits.
    if (x[i] === '>' || y[i] === '>') return true;
    if (x[i] !== '*' && y[i] !== '*' && x[i] !== y[i]) return false;
  }
}
