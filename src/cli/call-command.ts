import { Command, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { ControlPlaneClient } from '../control-plane/client.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { MeshClient, type MeshCallResult } from '../data-plane/mesh-client.js';
import { formatDuration } from '../duration.js';
import { Code, MeshError, codeName } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import {
  checkControlPlane,
  clientIdentity,
  labelSelectorArgument,
  withClientOptions,
  type ClientFlags,
} from './client-options.js';
import { durationArgument, logLevelOption, nonEmptyArgument } from './run.js';

interface CallFlags extends ClientFlags {
  selector?: string;
  timeout: number;
  raw: boolean;
  logLevel: LevelWithSilent;
}

const JSON_CONTENT = /^application\/(json|[^;]*\+json)(;|$)/i;

/** Checks that the request body is JSON, as a usage error (exit 2) when it is not. */
function jsonArgument(value: string): string {
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
 * `agent-mesh call <type> <method> <json>`: one call through the mesh client (discovery from the control plane's
 * watch, balancing, failover before the call reaches an agent, a deadline), printing the answer. A failed call
 * ends with its status name and the agent's or the mesh's message.
 */
export function createCallCommand(): Command {
  return withClientOptions(
    new Command('call')
      .description(
        'call a method on an agent of the given type through the mesh (balanced, over mTLS) and print the answer',
      )
      .argument('<type>', 'the agent type to call, e.g. summarizer', nonEmptyArgument)
      .argument('<method>', 'the method to invoke, e.g. summarize', nonEmptyArgument)
      .argument('<json>', 'the request body: a JSON document, sent as application/json', jsonArgument)
      .option(
        '--selector <selector>',
        "only agents whose labels match, e.g. 'zone=eu-1,model in (large,xl),!beta'",
        labelSelectorArgument,
      )
      .addOption(
        new Option('--timeout <duration>', 'deadline of the call, every attempt included')
          .argParser(durationArgument)
          .default(10_000, '10s'),
      )
      .option(
        '--raw',
        'print the answer exactly as received (no JSON pretty-printing, no newline added)',
        false,
      )
      .addOption(logLevelOption('warn')),
  ).action(async (type: string, method: string, body: string, flags: CallFlags) => {
    const identity = await clientIdentity(flags);
    const logger = createLogger({ level: flags.logLevel });
    await checkControlPlane(identity, flags.controlPlane);
    const control = new ControlPlaneClient({ address: flags.controlPlane, identity });
    const cache = new EndpointCache({ client: control, logger });
    const mesh = new MeshClient({ identity, cache, logger });
    try {
      await cache.start();
      const result = await mesh
        .call(
          { type, ...(flags.selector ? { labelSelector: flags.selector } : {}) },
          method,
          Buffer.from(body),
          { contentType: 'application/json', timeoutMs: flags.timeout },
        )
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
function callError(error: MeshError, timeoutMs: number): MeshError {
  const hint =
    error.code === Code.DEADLINE_EXCEEDED
      ? ` (the deadline was ${formatDuration(timeoutMs)}: see --timeout)`
      : '';
  return new MeshError(error.code, `${codeName(error.code)}: ${error.message}${hint}`, { cause: error });
}
