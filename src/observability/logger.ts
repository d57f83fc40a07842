import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { currentContext } from '../data-plane/call-context.js';

export type { Logger };

/** Options for the process's root logger. */
export interface LoggerOptions {
  /** Minimum level; default from `AGENT_MESH_LOG_LEVEL`, else `info`. */
  level?: LevelWithSilent;
  /** Human-readable output (pino-pretty) instead of JSON lines; default: when stderr is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go (default: stderr); ignored when pretty. */
  destination?: DestinationStream;
}

/**
 * Creates the root logger of a process: JSON lines on stderr, or pretty output in a terminal. Components take a
 * child of it (`logger.child({component: 'ca'})`) through their options, never a module-global logger.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.AGENT_MESH_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({
      level,
      mixin: callFields,
      transport: { target: 'pino-pretty', options: { destination: 2 } },
    });
  }
  return pino({ level, mixin: callFields }, options.destination ?? pino.destination(2));
}

/**
 * What every log line written while handling a call (or an event) carries: the trace id, and the caller and
 * the chain it came through. The callee is the agent whose child logger writes the line (`agent`).
 */
function callFields(): Record<string, unknown> {
  const context = currentContext();
  if (!context) return {};
  const traceId = context.traceparent?.split('-')[1];
  const caller = context.chain.at(-1);
  return {
    ...(traceId ? { traceId } : {}),
    ...(caller ? { caller } : {}),
    ...(context.chain.length > 1 ? { callerChain: context.chain } : {}),
  };
}

/** A logger that drops everything, for library use without a configured logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
