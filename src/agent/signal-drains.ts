import type { Logger } from '../observability/logger.js';
import type { RunningAgent } from './agent-options.js';

/**
 * Agents that drain on SIGTERM and SIGINT, with their loggers and grace periods: one handler per process serves
 * them all.
 */
const signalDrains = new Map<RunningAgent, { logger: Logger; graceMs: number }>();
let signalHandler: ((signal: NodeJS.Signals) => void) | undefined;

/**
 * Drains `agent` on SIGTERM or SIGINT. The first signal drains every agent of the process that asked for it,
 * together, and exits once all are done (within their grace periods); later signals change nothing, because one
 * Ctrl-C often arrives more than once (the terminal signals the process group, and npm or tsx forward it again).
 * An agent that drains for another reason leaves the set when its drain ends.
 */
export function drainOnSignals(agent: RunningAgent, logger: Logger, graceMs: number): void {
  signalDrains.set(agent, { logger, graceMs });
  if (signalHandler) return;
  const handler = (signal: NodeJS.Signals) => {
    stopSignalHandler();
    const ignore = (again: NodeJS.Signals) => logger.info({ signal: again }, 'already draining before exit');
    process.on('SIGTERM', ignore);
    process.on('SIGINT', ignore);
    const agents = [...signalDrains];
    for (const [, { logger: agentLogger }] of agents) agentLogger.info({ signal }, 'draining before exit');
    // Drains are bounded by their grace periods; should one still hang (a bug), the process exits anyway.
    const longest = Math.max(...agents.map(([, { graceMs: grace }]) => grace));
    setTimeout(() => {
      logger.error({ graceMs: longest }, 'drain did not finish within the grace period; exiting');
      process.exit(1);
    }, longest + 2_000).unref();
    void Promise.allSettled(agents.map(([running]) => running.drain())).finally(() => process.exit(0));
  };
  signalHandler = handler;
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

/** Takes a drained agent out of the signal handler's set; the handler goes when no agent is left. */
export function forgetSignalDrain(agent: RunningAgent): void {
  if (signalDrains.delete(agent) && signalDrains.size === 0) stopSignalHandler();
}

/** Removes the process signal handler. */
function stopSignalHandler(): void {
  if (!signalHandler) return;
  process.off('SIGTERM', signalHandler);
  process.off('SIGINT', signalHandler);
  signalHandler = undefined;
}
