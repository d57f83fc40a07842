import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { startAgent } from '../agent/agent-runtime.js';
import { connectA2aAgent } from '../edge/a2a-adapter.js';
import { connectMcpServer, type AdaptedServer } from '../edge/mcp-adapter.js';
import { Code, MeshError } from '../core/errors.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { connectedIdentity, withClientOptions, type ClientFlags } from './client-options.js';
import { collect, logLevelOption, nonEmptyArgument } from './run.js';
import { listenForShutdown } from './shutdown-signal.js';

interface AdapterFlags extends ClientFlags {
  type: string;
  listen: string;
  url?: string;
  passEnv: string[];
  logLevel: LevelWithSilent;
}

/**
 * `agent-mesh adapter mcp|a2a`: an existing MCP server or A2A agent as an agent of the mesh. The adapter registers
 * as `--name` with `--type` (which its certificate must entitle it to), its skills the server's tools or the A2A
 * card's skills; mesh agents reach them with `callTool` and `mesh.call`, balanced over every adapter of the type,
 * under the mesh's policies, metrics and traces. It stops on SIGINT/SIGTERM (exit 0) or when an MCP server on
 * stdio exits (exit 1).
 */
export function createAdapterCommand(): Command {
  const adapter = new Command('adapter').description(
    'register an existing MCP server or A2A agent as an agent of the mesh (its tools or skills as skills)',
  );
  adapter.addCommand(
    adapterOptions(new Command('mcp'))
      .description('an MCP server as a mesh agent: spawn it (after --) on stdio, or reach it at --url')
      .argument(
        '[command...]',
        'the MCP server to run on stdio, after --, e.g. -- npx some-mcp-server --root /data',
      )
      .option(
        '--url <url>',
        'the MCP server is at this Streamable HTTP URL instead (AGENT_MESH_MCP_TOKEN: a bearer token)',
      )
      .option(
        '--pass-env <name>',
        'pass this environment variable on to the MCP server it runs (repeatable; it gets only PATH, HOME and the like otherwise)',
        collect,
        [],
      )
      .action(async (commandLine: string[], flags: AdapterFlags, command: Command) => {
        if (commandLine.length > 0 === (flags.url !== undefined)) {
          command.error('error: give the MCP server as a command after -- or as --url, one of the two', {
            exitCode: 2,
          });
        }
        requireName(command);
        const token = process.env.AGENT_MESH_MCP_TOKEN;
        await runAdapter(flags, (logger) =>
          connectMcpServer(
            flags.url !== undefined
              ? { url: flags.url, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) }
              : {
                  command: commandLine[0]!,
                  args: commandLine.slice(1),
                  env: Object.fromEntries(
                    flags.passEnv.flatMap((name) =>
                      process.env[name] !== undefined ? [[name, process.env[name]!]] : [],
                    ),
                  ),
                },
            { logger },
          ),
        );
      }),
  );
  adapter.addCommand(
    adapterOptions(new Command('a2a'))
      .description(
        "an A2A agent as a mesh agent: its card's skills as skills (AGENT_MESH_A2A_TOKEN: a bearer token)",
      )
      .argument(
        '<card-url>',
        "the agent's card, e.g. https://agents.example/.well-known/agent-card.json",
        nonEmptyArgument,
      )
      .action(async (cardUrl: string, flags: AdapterFlags, command: Command) => {
        requireName(command);
        const token = process.env.AGENT_MESH_A2A_TOKEN;
        await runAdapter(flags, (logger) =>
          connectA2aAgent(cardUrl, { logger, ...(token ? { token } : {}) }),
        );
      }),
  );
  return adapter;
}

function adapterOptions(command: Command): Command {
  return withClientOptions(
    command
      .requiredOption(
        '--type <type>',
        'the agent type to register as, e.g. files (the certificate must entitle it)',
      )
      .addOption(
        new Option(
          '--listen <host:port>',
          "where the adapter serves the mesh's calls (port 0: a free port)",
        ).default('127.0.0.1:0'),
      )
      .addOption(logLevelOption('info')),
  );
}

/** An adapter acts as an agent of its own: its identity is named, never the CLI's default. */
function requireName(command: Command): void {
  if (command.getOptionValueSource('name') === 'default') {
    command.error(
      'error: give the adapter its identity with --name (e.g. files-1, issued with --type files)',
      {
        exitCode: 2,
      },
    );
  }
}

async function runAdapter(
  flags: AdapterFlags,
  connect: (logger: Logger) => Promise<AdaptedServer>,
): Promise<void> {
  const logger = createLogger({ level: flags.logLevel });
  const identity = await connectedIdentity(flags);
  const shutdown = listenForShutdown(logger);
  let adapted: AdaptedServer | undefined;
  try {
    adapted = await connect(logger);
    const agent = await startAgent({
      identity,
      controlPlane: flags.controlPlane,
      type: flags.type,
      listen: flags.listen,
      description: adapted.description,
      skills: adapted.skills,
      logger,
    });
    console.log(
      `agent-mesh adapter: ${flags.name} (type ${flags.type}) serves ${adapted.description} at ${agent.address}: skills ${adapted.skills.map((skill) => skill.id).join(', ')}`,
    );
    const outcome = await Promise.race([shutdown.received.then(() => undefined), adapted.gone]);
    await agent.drain(5_000);
    if (outcome !== undefined) throw new MeshError(Code.UNAVAILABLE, `${outcome}; the adapter stopped`);
  } finally {
    shutdown.dispose();
    await adapted?.close().catch(() => undefined);
  }
}
