import { Code, fail, ok, type Result } from '../errors.js';

const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_SEGMENTS = 16;

/**
 * Checks a topic: dot-separated segments of letters, digits, `_` and `-` (e.g. `tasks.created`), no wildcards,
 * at most 16 segments.
 */
export function validateTopic(topic: string): Result<string> {
  const segments = topic.split('.');
  if (topic === '' || segments.length > MAX_SEGMENTS || !segments.every((s) => SEGMENT.test(s))) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid topic "${topic.slice(0, 80)}": use up to ${MAX_SEGMENTS} dot-separated segments of letters, digits, "_" and "-", e.g. tasks.created`,
    );
  }
  return ok(topic);
}

/**
 * Checks a subscription pattern: like a topic, but a segment may be `*` (exactly one segment) and the last
 * segment may be `>` (one or more remaining segments).
 */
export function validatePattern(pattern: string): Result<string> {
  const segments = pattern.split('.');
  const validSegment = (segment: string, index: number) =>
    segment === '*' || (segment === '>' && index === segments.length - 1) || SEGMENT.test(segment);
  if (pattern === '' || segments.length > MAX_SEGMENTS || !segments.every(validSegment)) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid topic pattern "${pattern.slice(0, 80)}": use dot-separated segments, "*" for one segment and a final ">" for the rest, e.g. tasks.* or tasks.>`,
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
