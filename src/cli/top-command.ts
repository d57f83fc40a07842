import { Command, Option } from 'commander';
import { Code, MeshError } from '../core/errors.js';
import type { CallEdge } from '../control-plane/call-graph.js';
import type { TopologyView } from '../control-plane/operations-view.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { durationOption, httpListenArgument } from './run.js';
import { formatTable } from './table.js';

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
        'errors and latency (p50/p95/p99, estimated from the reports), refreshed until Ctrl-C (--once prints one table)',
    )
    .addOption(
      new Option('--dashboard <host:port>', "the control plane's dashboard (its --http-listen)")
        .default('127.0.0.1:7401')
        .env('AGENT_MESH_DASHBOARD')
        .argParser(httpListenArgument),
    )
    .addOption(durationOption('--interval <duration>', 'how often to refresh', 2_000))
    .option(
      '--once',
      'print one table and exit (-o json|yaml: the call graph as the dashboard reads it)',
      false,
    )
    .option('--by-type', 'one row per caller type and callee type instead of per agent', false)
    .action(async (flags: TopFlags) => {
      if (flags.once || flags.output !== 'table' || flags.json) {
        const topology = await readTopology(flags.dashboard);
        await printResult(flags, topology, () => topTable(topology, flags));
        return;
      }
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        while (!controller.signal.aborted) {
          const topology = await readTopology(flags.dashboard);
          const frame = topTable(topology, flags);
          // On a terminal each refresh replaces the last; into a pipe, frames follow each other.
          process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${frame}\n` : `${frame}\n\n`);
          await sleep(flags.interval, controller.signal);
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}

async function readTopology(dashboard: string): Promise<TopologyView> {
  const url = `http://${dashboard}/api/topology`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
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
  return (await response.json()) as TopologyView;
}

function milliseconds(value: number): string {
  return value >= 100 ? `${Math.round(value)}ms` : `${value.toFixed(1)}ms`;
}

/** One frame: a heading with the window, then the edges, busiest first. */
export function topTable(topology: TopologyView, options: { byType: boolean; dashboard: string }): string {
  const edges: CallEdge[] = [...(options.byType ? topology.typeEdges : topology.agentEdges)].sort(
    (a, b) => b.ratePerSecond - a.ratePerSecond || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
  );
  const heading =
    `calls reported to ${options.dashboard} over the last ${topology.windowSeconds}s, ` +
    `at ${new Date(topology.generatedAt).toISOString().slice(11, 19)} UTC`;
  if (edges.length === 0) return `${heading}\nno calls reported yet`;
  return `${heading}\n${formatTable([
    ['CALLER', 'CALLEE', 'CALLS/S', 'CALLS', 'ERRORS', 'P50', 'P95', 'P99', 'MAX', 'METHODS'],
    ...edges.map((edge) => [
      edge.from,
      edge.to,
      edge.ratePerSecond.toFixed(1),
      String(edge.calls),
      edge.errors > 0 ? `${edge.errors} (${(edge.errorRatio * 100).toFixed(1)}%)` : '0',
      milliseconds(edge.latencyMsP50),
      milliseconds(edge.latencyMsP95),
      milliseconds(edge.latencyMsP99),
      milliseconds(edge.latencyMsMax),
      edge.methods.join(', '),
    ]),
  ])}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
