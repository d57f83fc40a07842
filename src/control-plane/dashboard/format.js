// @ts-check
// How the dashboard writes numbers: rates, durations, ratios, clock times and counted words. Pure functions.

/**
 * Calls per second, with fewer decimals as it grows.
 * @param {number} perSecond
 * @returns {string}
 */
export function formatRate(perSecond) {
  if (perSecond === 0) return '0';
  if (perSecond < 0.01) return '<0.01';
  if (perSecond < 10) return perSecond.toFixed(2);
  if (perSecond < 100) return perSecond.toFixed(1);
  return Math.round(perSecond).toLocaleString('en');
}

/**
 * A latency, in ms below a second and in s above.
 * @param {number} ms
 * @returns {string}
 */
export function formatMs(ms) {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * A ratio between 0 and 1 as a percentage; a tiny one is not rounded to 0.
 * @param {number} ratio
 * @returns {string}
 */
export function formatPercent(ratio) {
  if (ratio === 0) return '0%';
  if (ratio < 0.001) return '<0.1%';
  if (ratio < 0.1) return `${(ratio * 100).toFixed(1)}%`;
  return `${Math.round(ratio * 100)}%`;
}

/**
 * The style class of an error ratio: `bad` from 5%, `warn` above 0, `ok` at 0.
 * @param {number} ratio
 * @returns {'bad' | 'warn' | 'ok'}
 */
export function ratioClass(ratio) {
  if (ratio >= 0.05) return 'bad';
  if (ratio > 0) return 'warn';
  return 'ok';
}

/**
 * A length of time in its largest whole unit (s, min, h, d), without a sign.
 * @param {number} ms
 * @returns {string}
 */
export function formatSpan(ms) {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

/**
 * A time of day, `hh:mm:ss` in the browser's time zone.
 * @param {number} time ms since the epoch
 * @returns {string}
 */
export function formatClock(time) {
  const date = new Date(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

/**
 * `count` and `word`, with an s unless there is one.
 * @param {number} count
 * @param {string} word
 * @returns {string}
 */
export function plural(count, word) {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
