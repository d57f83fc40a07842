import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Code, MeshError } from '../core/errors.js';
import type { CallEdge } from '../control-plane/call-graph.js';
import type { CallsView, TopologyView } from '../control-plane/operations-view.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { durationOption, listenArgument } from './run.js';
import { formatTable } from './table.js';
import { listenForShutdown } from './shutdown-signal.js';
import { silentLogger } from '../observability/logger.js';

interface TopFlags extends OutputFlags {
  dashboard: string;
  interval: number;
  once: boolean;
  byType: boolean;
}

/** How long one read of the dashboard's JSON may take. */
const READ_TIMEOUT_MS = 5_000;

/**
 * `agent-mesh top`: the calls agents report in their heartbeats (the call graph the dashboard draws), as a table
 * refreshed in the terminal: per caller and callee, the methods, calls per second, errors and latency.
 */
export function createTopCommand(): Command {
  return withOutputOptions(new Command('top'))
    .description(
      "live calls between agents, from their heartbeats' call reports: per caller and callee, methods, calls/s, " +
        'errors and latency (p50/p95/p99), refreshed until Ctrl-C (--once prints one table)',
    )
    .addOption(
      new Option('--dashboard <host:port>', "the control plane's dashboard (its --http-listen)")
        .default('127.0.0.1:7401')
        .env('AGENT_MESH_DASHBOARD')
        .argParser(dashboardArgument),
    )
    .addOption(durationOption('--interval <duration>', 'how often to refresh', 2_000))
    .option(
      '--once',
      'print one table and exit (-o json|yaml: its rows as data, each a call-graph edge)',
      false,
    )
    .option('--by-type', 'one row per caller type and callee type instead of per agent and method', false)
    .action(async (flags: TopFlags) => {
      if (flags.once || flags.output !== 'table' || flags.json) {
        const calls = await readCalls(flags);
        // Times in documents are ISO 8601, as in every other command's JSON.
        const document = { ...calls, generatedAt: new Date(calls.generatedAt).toISOString() };
        await printResult(flags, document, () => topTable(calls, flags));
        return;
      }
      const shutdown = listenForShutdown(silentLogger());
      const stopped = new AbortController();
      void shutdown.received.then(() => stopped.abort());
      try {
        while (!shutdown.came) {
          // A live view outlasts a control plane restart: a failed read is shown in place of the table, and retried.
          const frame = await readCalls(flags).then(
            (calls) => topTable(calls, flags),
            (error: unknown) =>
              `${(error as Error).message}\nretrying every ${flags.interval / 1_000}s; Ctrl-C stops`,
          );
          // On a terminal each refresh replaces the last; into a pipe, frames follow each other.
          process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${frame}\n` : `${frame}\n\n`);
          // The signal ends the wait at once (and its timer with it, so nothing keeps the process after Ctrl-C).
          await sleep(flags.interval, undefined, { signal: stopped.signal }).catch(() => undefined);
        }
      } finally {
        shutdown.dispose();
      }
    });
}

/** What one frame shows: per caller, callee and method, or (`--by-type`) per caller type and callee type. */
interface Calls {
  generatedAt: number;
  windowSeconds: number;
  edges: CallEdge[];
}

async function readCalls(flags: TopFlags): Promise<Calls> {
  if (flags.byType) {
    const topology = await readJson<TopologyView>(flags.dashboard, '/api/topology');
    return {
      generatedAt: topology.generatedAt,
      windowSeconds: topology.windowSeconds,
      edges: topology.typeEdges,
    };
  }
  const calls = await readJson<CallsView>(flags.dashboard, '/api/calls');
  return { generatedAt: calls.generatedAt, windowSeconds: calls.windowSeconds, edges: calls.methodEdges };
}

async function readJson<T>(dashboard: string, path: string): Promise<T> {
  const url = `http://${dashboard}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    // undici's socket error: something answered and hung up (not an HTTP server: the gRPC port?).
    const cause = code === 'UND_ERR_SOCKET' ? 'the connection was closed: not an HTTP server?' : code;
    throw new MeshError(
      Code.UNAVAILABLE,
      `cannot read the dashboard at ${dashboard} (${cause}): start the control plane with --http-listen, or point --dashboard / AGENT_MESH_DASHBOARD at it`,
    );
  }
  if (!response.ok) {
    throw new MeshError(
      Code.UNAVAILABLE,
      `the dashboard at ${dashboard} answered ${response.status} for ${url}`,
    );
  }
  return (await response.json()) as T;
}

function milliseconds(value: number): string {
  return value >= 100 ? `${Math.round(value)}ms` : `${value.toFixed(1)}ms`;
}

/** One frame: a heading with the window, then the edges, busiest first. */
export function topTable(calls: Calls, options: { byType: boolean; dashboard: string }): string {
  const edges: CallEdge[] = [...calls.edges].sort(
    (a, b) => b.ratePerSecond - a.ratePerSecond || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
  );
  const heading =
    `calls reported to ${options.dashboard} over the last ${calls.windowSeconds}s, ` +
    `at ${new Date(calls.generatedAt).toISOString().slice(11, 19)} UTC`;
  if (edges.length === 0) return `${heading}\nno calls reported yet`;
  return `${heading}\n${formatTable([
    [
      'CALLER',
      'CALLEE',
      options.byType ? 'METHODS' : 'METHOD',
      'CALLS/S',
      'CALLS',
      'ERRORS',
      'P50',
      'P95',
      'P99',
      'MAX',
    ],
    ...edges.map((edge) => [
      edge.from,
      edge.to,
      edge.methods.join(', '),
      edge.ratePerSecond.toFixed(1),
      String(edge.calls),
      edge.errors > 0 ? `${edge.errors} (${(edge.errorRatio * 100).toFixed(1)}%)` : '0',
      milliseconds(edge.latencyMsP50),
      milliseconds(edge.latencyMsP95),
      milliseconds(edge.latencyMsP99),
      milliseconds(edge.latencyMsMax),
    ]),
  ])}`;
}

/**
 * `--dashboard`: the dashboard's `host:port`, or its URL as `up` prints it (`http://127.0.0.1:7401/`).
 */
function dashboardArgument(value: string): string {
  const address = value.replace(/^http:\/\//, '').replace(/\/$/, '');
  try {
    return listenArgument(address);
  } catch {
    throw new InvalidArgumentError("use the dashboard's host:port or URL, e.g. 127.0.0.1:7401");
  }
}
