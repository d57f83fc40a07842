import { Code, MeshError, quote } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * Parses a duration such as `24h`, `90s`, `1h30m`, `500ms` or `7d` into milliseconds. Every number needs a unit;
 * the result must be a positive whole number of milliseconds.
 * @throws MeshError INVALID_ARGUMENT naming the accepted forms.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid duration ${quote(text)}: use a number with a unit (ms, s, m, h, d), e.g. 90s, 24h or 1h30m`,
    );
  }
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit!]!;
  }
  if (!Number.isSafeInteger(Math.round(total))) {
    throw new MeshError(Code.INVALID_ARGUMENT, `invalid duration ${quote(text)}: it is far too long`);
  }
  if (Math.round(total) <= 0) {
    throw new MeshError(Code.INVALID_ARGUMENT, `invalid duration ${quote(text)}: it must be longer than 0ms`);
  }
  return Math.round(total);
}

/** Formats milliseconds in the largest whole units, e.g. `36h`, `90s`, `1500ms`: the inverse of parseDuration. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * A duration for people, to its two largest units and rounded down: `3649d`, `23h58m`, `4m05s`, `12s`, `0s`. For
 * what is left of a certificate or a lease, where {@link formatDuration}'s exactness would print milliseconds.
 */
export function formatApproximateDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1_000));
  const two = (n: number) => String(n).padStart(2, '0');
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${two(seconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${two(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d`;
}
