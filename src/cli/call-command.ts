import { Command, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { ControlPlaneClient } from '../control-plane/client.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { MeshClient, type MeshCallResult, type MeshStreamChunk } from '../data-plane/mesh-client.js';
import { formatDuration } from '../core/duration.js';
import { Code, MeshError, codeName } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import {
  connectedIdentity,
  labelSelectorArgument,
  withClientOptions,
  type ClientFlags,
} from './client-options.js';
import { durationArgument, logLevelOption, nonEmptyArgument, payloadText } from './run.js';

interface CallFlags extends ClientFlags {
  selector?: string;
  timeout: number;
  raw: boolean;
  stream: boolean;
  logLevel: LevelWithSilent;
}

const JSON_CONTENT = /^application\/(json|[^;]*\+json)(;|$)/i;

/** Checks that the request body is JSON, as a usage error (exit 2) when it is not. */
function jsonArgument(argument: string): string {
  const value = payloadText(argument);
  try {
    JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(
      `it is not JSON (${(error as Error).message}); quote it for the shell, e.g. '{"text": "hello"}'`,
    );
  }
  return value; // sent as typed: re-encoding could change it (e.g. round large numbers)
}

/** Prints an answer: JSON pretty-printed, anything else as text; `raw` writes the bytes as they came. */
function printAnswer(result: MeshCallResult, raw: boolean): void {
  if (raw) {
    process.stdout.write(result.payload);
    return;
  }
  const text = result.payload.toString();
  if (JSON_CONTENT.test(result.contentType)) {
    try {
      console.log(JSON.stringify(JSON.parse(text), null, 2));
      return;
    } catch {
      // Labelled JSON but not JSON: show what the agent sent rather than hide it.
    }
  }
  console.log(text.endsWith('\n') ? text.slice(0, -1) : text);
}

/**
 * Prints the chunks of a streamed answer as they arrive: text as it comes (a model's tokens run on), each JSON
 * chunk as one line; `raw` writes the bytes as they came. Returns whether what was printed ends with a newline.
 */
async function printChunks(chunks: AsyncIterable<MeshStreamChunk>, raw: boolean): Promise<boolean> {
  let endsWithNewline = true;
  for await (const chunk of chunks) {
    let bytes = chunk.payload;
    if (!raw && JSON_CONTENT.test(chunk.contentType)) {
      try {
        bytes = Buffer.from(`${JSON.stringify(JSON.parse(bytes.toString()))}\n`);
      } catch {
        // Labelled JSON but not JSON: show what the agent sent rather than hide it.
      }
    }
    if (bytes.length === 0) continue;
    process.stdout.write(bytes);
    endsWithNewline = bytes[bytes.length - 1] === 0x0a;
  }
  return endsWithNewline;
}

/**
 * `agent-mesh call <type> <method> <json>`: one call through the mesh client (discovery from the control plane's
 * watch, balancing, failover before the call reaches an agent, a deadline), printing the answer; with `--stream`,
 * a streamed method (`InvokeStream`), printing each chunk as it arrives. A failed call ends with its status name
 * and the agent's or the mesh's message.
 */
export function createCallCommand(): Command {
  return withClientOptions(
    new Command('call')
      .description(
        'call a method on an agent of the given type through the mesh (balanced, over mTLS) and print the answer',
      )
      .argument('<type>', 'the agent type to call, e.g. summarizer', nonEmptyArgument)
      .argument('<method>', 'the method to invoke, e.g. summarize', nonEmptyArgument)
      .argument(
        '<json>',
        'the request body: a JSON document, sent as application/json (- reads it from stdin, @file from a file)',
        jsonArgument,
      )
      .option(
        '--selector <selector>',
        "only agents whose labels match, e.g. 'zone=eu-1,model in (large,xl),!beta'",
        labelSelectorArgument,
      )
      .addOption(
        new Option(
          '--timeout <duration>',
          'deadline of the call, every attempt included (with --stream: of the whole stream, none unless given)',
        )
          .argParser(durationArgument)
          .default(10_000, '10s'),
      )
      .option(
        '--stream',
        'call a streamed method (InvokeStream) and print each chunk as it arrives: text as it comes, JSON one per line',
        false,
      )
      .option(
        '--raw',
        'print the answer exactly as received (no JSON pretty-printing, no newline added)',
        false,
      )
      .addOption(logLevelOption('warn')),
  ).action(async (type: string, method: string, body: string, flags: CallFlags, command: Command) => {
    const identity = await connectedIdentity(flags);
    const logger = createLogger({ level: flags.logLevel });
    const control = new ControlPlaneClient({ address: flags.controlPlane, identity });
    const cache = new EndpointCache({ client: control, logger });
    const mesh = new MeshClient({ identity, cache, logger });
    const target = { type, ...(flags.selector ? { labelSelector: flags.selector } : {}) };
    try {
      await cache.start();
      if (flags.stream) {
        // A stream has no deadline of its own unless asked for: a long generation must not be cut at 10 s.
        const timeout = command.getOptionValueSource('timeout') === 'default' ? undefined : flags.timeout;
        const chunks = mesh.stream(target, method, Buffer.from(body), {
          contentType: 'application/json',
          ...(timeout !== undefined ? { timeoutMs: timeout } : {}),
        });
        let endsWithNewline = true;
        try {
          endsWithNewline = await printChunks(chunks, flags.raw);
        } catch (error) {
          throw callError(MeshError.from(error), timeout);
        }
        if (!flags.raw && !endsWithNewline) process.stdout.write('\n');
        return;
      }
      const result = await mesh
        .call(target, method, Buffer.from(body), {
          contentType: 'application/json',
          timeoutMs: flags.timeout,
        })
        .catch((error: unknown) => {
          throw callError(MeshError.from(error), flags.timeout);
        });
      printAnswer(result, flags.raw);
    } finally {
      mesh.close();
      cache.close();
      control.close();
    }
  });
}

/** A failed call as the user sees it: the status name first, then the message (with the deadline when it ran out). */
function callError(error: MeshError, timeoutMs: number | undefined): MeshError {
  const hint =
    error.code === Code.DEADLINE_EXCEEDED && timeoutMs !== undefined
      ? ` (the deadline was ${formatDuration(timeoutMs)}: see --timeout)`
      : '';
  return new MeshError(error.code, `${codeName(error.code)}: ${error.message}${hint}`, { cause: error });
}
