// @ts-check
/* global document */
// Times relative to now ("in 5 min", "3 s ago") on the server's clock, and the ticker that keeps them current.
import { h } from './dom.js';
import { formatSpan } from './format.js';

/** How long before a certificate expires its expiry is marked `soon` (a certificate that close has missed its renewal). */
export const CERTIFICATE_WARNING_MS = 3_600_000;

// The server's clock minus ours, so that "in 5 min" is right even when the two disagree.
let clockOffset = 0;

/**
 * Sets the page's idea of now from a time the server just stamped (`AgentsView.generatedAt`).
 * @param {number} serverNow ms since the epoch, on the server's clock
 */
export function followServerClock(serverNow) {
  clockOffset = serverNow - Date.now();
}

/**
 * Now on the server's clock.
 * @returns {number}
 */
export function now() {
  return Date.now() + clockOffset;
}

/**
 * How far `time` is from now: "in 5 min" or "5 min ago".
 * @param {number} time ms since the epoch, on the server's clock
 * @returns {string}
 */
export function formatRelative(time) {
  const delta = time - now();
  return delta >= 0 ? `in ${formatSpan(delta)}` : `${formatSpan(delta)} ago`;
}

/**
 * A time that keeps saying how far away it is ({@link refreshRelativeTimes} refreshes it). With `warnWithinMs`,
 * it is marked `soon` that long before the time and `expired` after it.
 * @param {number} time ms since the epoch, on the server's clock
 * @param {{ warnWithinMs?: number }} [options]
 * @returns {HTMLSpanElement}
 */
export function relativeTime(time, options = {}) {
  return h('span', {
    class: 'relative',
    dataset: {
      time: String(time),
      warnWithinMs: options.warnWithinMs ? String(options.warnWithinMs) : undefined,
    },
    title: new Date(time).toISOString(),
    text: formatRelative(time),
  });
}

/** Rewrites every relative time on the page (once a second, and after each render). */
export function refreshRelativeTimes() {
  for (const node of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.relative'))) {
    const time = Number(node.dataset.time);
    node.textContent = formatRelative(time);
    const warnWithin = Number(node.dataset.warnWithinMs || 0);
    if (warnWithin) {
      node.classList.toggle('expired', time <= now());
      node.classList.toggle('soon', time > now() && time - now() < warnWithin);
    }
  }
}
