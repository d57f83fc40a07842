import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { currentContext } from '../core/call-context.js';
import { Code, MeshError, quote } from '../core/errors.js';

export type { Logger };

/** The log levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

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
 * @throws MeshError INVALID_ARGUMENT for a level that is not one of {@link LOG_LEVELS} (in `options.level` or in
 * `AGENT_MESH_LOG_LEVEL`), naming the valid ones.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const fromEnv = options.level === undefined ? process.env.AGENT_MESH_LOG_LEVEL : undefined;
  const level: string = options.level ?? fromEnv ?? 'info';
  if (!isLogLevel(level)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid log level ${quote(level)}${fromEnv !== undefined ? ' in AGENT_MESH_LOG_LEVEL' : ''}: use one of ${LOG_LEVELS.join(', ')}`,
    );
  }
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

/** Whether `value` names a log level pino knows. */
export function isLogLevel(value: string): value is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(value);
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
