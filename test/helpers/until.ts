/**
 * Waits until `predicate` holds, checking every 10 ms; fails after `timeoutMs` naming `what` (a test then fails
 * with what it was waiting for rather than with vitest's own timeout).
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what = 'a condition',
  timeoutMs = 30_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
