// @ts-check
// Small per-minute charts for the agent page: bars of a series with an optional second series stacked in red
// (errors), scaled to the largest value. SVG made from numbers only.
import { h, s } from './dom.js';
import { formatClock } from './format.js';

/** @typedef {{ at: number, value: number, part?: number }} Bar */

const WIDTH = 600;
const HEIGHT = 80;

/**
 * A bar chart of `bars` (oldest first), one bar per minute, with a caption giving the peak.
 * @param {string} title what the bars count, e.g. "calls in per minute"
 * @param {Bar[]} bars `part` is the share drawn in the alarm colour (errors), at most `value`
 * @returns {HTMLElement}
 */
export function barChart(title, bars) {
  const peak = Math.max(0, ...bars.map((bar) => bar.value));
  const step = WIDTH / Math.max(1, bars.length);
  const gap = Math.min(2, step / 4);
  const rects = bars.flatMap((bar, index) => {
    const x = index * step + gap / 2;
    const tall = peak > 0 ? (bar.value / peak) * (HEIGHT - 4) : 0;
    const bad = peak > 0 ? ((bar.part ?? 0) / peak) * (HEIGHT - 4) : 0;
    const tooltip = `${formatClock(bar.at)}: ${bar.value}${bar.part ? ` (${bar.part} failed)` : ''}`;
    /** One bar of `height` from the baseline, in `className`'s colour. */
    const rect = (/** @type {string} */ className, /** @type {number} */ height) =>
      s(
        'rect',
        {
          class: className,
          x: x.toFixed(1),
          y: (HEIGHT - height).toFixed(1),
          width: Math.max(1, step - gap).toFixed(1),
          height: height.toFixed(1),
        },
        s('title', { text: tooltip }),
      );
    return [rect('bar-value', tall), bad > 0 ? rect('bar-part', bad) : null];
  });
  const svg = s(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title },
    s('line', { class: 'baseline', x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5 }),
    rects,
  );
  return h('figure', { class: 'chart' }, [
    svg,
    h('figcaption', {}, [
      h('span', { text: title }),
      h('span', { class: 'hint', text: bars.length ? `peak ${peak}, ${bars.length} min` : 'no data yet' }),
    ]),
  ]);
}
