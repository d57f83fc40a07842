import type { Logger } from '../observability/logger.js';

/** SIGINT (Ctrl-C) and SIGTERM, listened for in place of their default action, which ends the process at once. */
export interface ShutdownSignal {
  /** Resolves with the name of the first signal. */
  received: Promise<NodeJS.Signals>;
  /** Whether it came already. */
  readonly came: boolean;
  /** Stops listening (after a signal came, repeats of it are ignored until the process exits). */
  dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM until disposed. Signals after the first are ignored rather than fatal: one Ctrl-C
 * often arrives more than once (the terminal signals every process of the group, and `npm start`'s wrappers, npm
 * and tsx, relay it to their child as well), and the drain that follows is bounded anyway.
 */
export function listenForShutdown(logger: Logger): ShutdownSignal {
  let came = false;
  let wake: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (came) logger.debug({ signal }, 'already stopping');
    came = true;
    wake(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    received,
    get came() {
      return came;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // Stopping because of a signal: a repeat of it that arrives between here and the exit must not kill the
      // process with the signal's status (a listener does not keep the process alive).
      if (came) {
        const ignore = () => undefined;
        process.on('SIGINT', ignore);
        process.on('SIGTERM', ignore);
      }
    },
  };
}
