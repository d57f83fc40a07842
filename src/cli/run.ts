import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CommanderError, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { Code, MeshError } from '../core/errors.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { parseListenAddress } from '../observability/http-server.js';
import { LOG_LEVELS } from '../observability/logger.js';

/**
 * Checks an HTTP listen address (`--http-listen`, `--metrics-listen`) when the command line is read, so that a typo
 * is a usage error before anything starts.
 */
export function httpListenArgument(value: string): string {
  const parsed = parseListenAddress(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error.message);
  return value;
}

/**
 * `--log-level <level>` (also from AGENT_MESH_LOG_LEVEL), limited to the levels the logger knows, so that a typo
 * is a usage error listing them instead of a crash when the logger is created.
 */
export function logLevelOption(defaultLevel: LevelWithSilent): Option {
  return new Option('--log-level <level>', 'log level')
    .choices(LOG_LEVELS)
    .default(defaultLevel)
    .env('AGENT_MESH_LOG_LEVEL');
}

/**
 * Parses a flag or argument that names something (an address, an agent type), refusing an empty or blank value,
 * which would otherwise mean "anything" or fail deep inside gRPC.
 */
export function nonEmptyArgument(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('it is empty: give a value');
  return value;
}

/** Parses a gRPC `--listen <host:port>` flag, so that a typo is a usage error before anything starts. */
export function listenArgument(value: string): string {
  const separator = value.lastIndexOf(':');
  const port = value.slice(separator + 1);
  if (separator <= 0 || !/^\d{1,5}$/.test(port) || Number(port) > 65_535) {
    throw new InvalidArgumentError('use host:port, e.g. 127.0.0.1:7400 (port 0: a free port)');
  }
  return value;
}

/** Parses a `--ttl`-style duration flag, turning a bad value into commander's one-line usage error. */
export function durationArgument(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * The text of a payload argument: as given; `-` reads standard input, `@<file>` a file (for payloads over the
 * shell's argument limit, or kept in files). A file that cannot be read is a usage error naming it.
 */
export function payloadText(value: string): string {
  if (value !== '-' && !value.startsWith('@')) return value;
  return inputText(value === '-' ? '-' : value.slice(1));
}

/**
 * The text of a file a command reads, or of standard input for `-`; one that cannot be read is a usage error
 * naming it and why.
 */
export function inputText(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const what = path === '-' ? 'standard input' : path;
    throw new InvalidArgumentError(
      `cannot read ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/** A duration flag whose default `--help` shows as a duration (`10s`), as the flag takes it, not in milliseconds. */
export function durationOption(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description)
    .argParser(durationArgument)
    .default(defaultMs, formatDuration(defaultMs));
}

/** Collects a repeatable flag (`--dns a --dns b`) into a list. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * A usage error found once a command runs (a file named by an argument cannot be read, a flag needed in this
 * situation is missing): reported in one line with exit code 2, as commander's own usage errors are.
 */
export class UsageError extends MeshError {
  constructor(message: string) {
    super(Code.INVALID_ARGUMENT, message);
  }
}

/**
 * Runs a command line. Usage errors (unknown flags, missing arguments, bad values) and MeshErrors end the process
 * with one clear line on stderr and exit code 1 (2 for usage errors); anything else is a bug and shows its stack.
 */
export async function runCli(program: Command, argv: string[] = process.argv): Promise<void> {
  program.exitOverride();
  program.configureOutput({ outputError: (text, write) => write(text) });
  for (const command of allCommands(program)) command.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version output are "errors" to commander; everything else was already printed in one line.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
    } else if (error instanceof MeshError) {
      process.stderr.write(`${program.name()}: ${error.message}\n`);
      process.exitCode = error instanceof UsageError ? 2 : 1;
    } else {
      throw error;
    }
  }
  // A command that failed is done: a connection still being made (a control plane that accepts TCP but never
  // answers the TLS handshake) must not keep the process waiting after the error was said. Commands that succeed
  // end when their work does (`subscribe` keeps its agent running until a signal).
  if (process.exitCode !== undefined && process.exitCode !== 0) {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit();
  }
}

/** Resolves once what was written to `stream` so far is handed to the system. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap((child) => allCommands(child))];
}

/** `--events`: comma-separated NATS URLs, each `nats://` or `tls://` with a host and port. */
export function natsUrlsArgument(value: string): string[] {
  const urls = value
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  if (urls.length === 0) throw new InvalidArgumentError('give at least one URL, e.g. nats://127.0.0.1:4222');
  for (const url of urls) {
    if (!/^(nats|tls):\/\/[^\s/:]+:\d{1,5}$/.test(url)) {
      throw new InvalidArgumentError(
        `${url} is not a NATS URL: use nats://host:port, e.g. nats://127.0.0.1:4222`,
      );
    }
  }
  return urls;
}
