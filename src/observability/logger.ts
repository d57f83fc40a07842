import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Options for the process's root logger. */
export interface LoggerOptions {
  /** Minimum level; default from `AGENT_MESH_LOG_LEVEL`, else `info`. */
  level?: LevelWithSilent;
  /** Human-readable output (pino-pretty) instead of JSON lines; default: when stderr is a terminal. */
  pretty?: boolean;
}

/**
 * Creates the root logger of a process: JSON lines on stderr, or pretty output in a terminal. Components take a
 * child of it (`logger.child({component: 'ca'})`) through their options, never a module-global logger.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.AGENT_MESH_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  return pino({ level }, pino.destination(2));
}

/** A logger that drops everything, for library use without a configured logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
