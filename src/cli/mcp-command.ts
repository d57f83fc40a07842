import { Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ControlPlaneClient } from '../control-plane/client.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { MeshClient } from '../data-plane/mesh-client.js';
import { createMcpServer } from '../edge/mcp-server.js';
import { MeshTools } from '../edge/mesh-tools.js';
import { createLogger } from '../observability/logger.js';
import { connectedIdentity, withClientOptions, type ClientFlags } from './client-options.js';
import { durationOption, logLevelOption } from './run.js';
import { listenForShutdown } from './shutdown-signal.js';
import { CLI_VERSION } from './version.js';

interface McpFlags extends ClientFlags {
  timeout: number;
  logLevel: LevelWithSilent;
}

/**
 * `agent-mesh mcp`: an MCP server on stdio for a language-model client (its `command` and `args`), offering the
 * mesh's skills as tools, called as the identity of `--name`. Logs go to stderr (stdout is the protocol). It runs
 * until its client closes stdin, or until SIGINT/SIGTERM; the exit status is then 0.
 */
export function createMcpCommand(): Command {
  return withClientOptions(
    new Command('mcp')
      .description(
        "serve the mesh's skills as MCP tools on stdio, for a language-model client (calls go through the mesh as --name)",
      )
      .addOption(durationOption('--timeout <duration>', 'deadline of each tool call', 30_000))
      .addOption(logLevelOption('warn')),
  ).action(async (flags: McpFlags) => {
    const logger = createLogger({ level: flags.logLevel });
    const identity = await connectedIdentity(flags);
    const control = new ControlPlaneClient({ address: flags.controlPlane, identity });
    const cache = new EndpointCache({ client: control, logger });
    const mesh = new MeshClient({ identity, cache, logger });
    const shutdown = listenForShutdown(logger);
    try {
      await cache.start();
      const tools = new MeshTools({ identity, cache, mesh, timeoutMs: flags.timeout });
      const server = createMcpServer({
        tools,
        logger,
        identity: identity.spiffeId.uri,
        version: CLI_VERSION,
      });
      const transport = new StdioServerTransport();
      const ended = new Promise<void>((resolve) => {
        process.stdin.once('end', resolve);
        process.stdin.once('close', resolve);
        transport.onclose = resolve;
      });
      await server.connect(transport);
      logger.info({ tools: tools.list().length }, 'serving MCP on stdio');
      await Promise.race([ended, shutdown.received]);
      await server.close().catch(() => undefined);
      tools.close();
    } finally {
      shutdown.dispose();
      mesh.close();
      cache.close();
      control.close();
    }
  });
}
