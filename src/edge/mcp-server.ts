import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { MeshError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import type { MeshTools } from './mesh-tools.js';

/** Options of {@link createMcpServer}. */
export interface McpServerOptions {
  tools: MeshTools;
  logger: Logger;
  /** Who the server acts as, for the instructions the client shows its model. */
  identity: string;
  version: string;
}

/**
 * An MCP server (one per client session) offering the mesh's tools: `tools/list` lists {@link MeshTools}, and
 * `tools/call` calls one through the mesh; `notifications/tools/list_changed` follows the registry. A tool that
 * fails answers with `isError` and the mesh's status and message; an unknown tool is the protocol error -32602.
 * Connect it to a transport (stdio, Streamable HTTP) with `server.connect(transport)`; closing it stops the
 * notifications.
 */
export function createMcpServer(options: McpServerOptions): Server {
  const { tools, logger } = options;
  const server = new Server(
    { name: 'agent-mesh', title: 'agent-mesh', version: options.version },
    {
      capabilities: { tools: { listChanged: true } },
      instructions: `Tools of the agents of an agent mesh, called as ${options.identity}: each is a skill on a registered agent's card, balanced over the healthy agents offering it.`,
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.list().map((tool) => ({
      name: tool.name,
      title: tool.title,
      description: tool.description,
      inputSchema: tool.inputSchema,
      ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
      _meta: { 'agentmesh/skill': tool.skillId, 'agentmesh/types': tool.types },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { name, arguments: args, _meta: meta } = request.params;
    const traceparent = typeof meta?.traceparent === 'string' ? meta.traceparent : undefined;
    try {
      const result = await tools.call(name, args, traceparent ? { traceparent } : {});
      logger.info({ tool: name, error: result.isError === true }, 'tool called');
      return result;
    } catch (error) {
      // An Error with a JSON-RPC code, not an McpError: that one's message already says "MCP error -32602:", and
      // the client's McpError says it again.
      if (error instanceof MeshError)
        throw Object.assign(new Error(error.message), { code: ErrorCode.InvalidParams });
      throw error;
    }
  });
  const stop = tools.onChange(() => {
    // Only once the client has initialized: a notification before then is a protocol error.
    if (server.getClientCapabilities() === undefined) return;
    server.sendToolListChanged().catch((error: unknown) => {
      logger.debug({ err: error }, 'tools/list_changed not sent');
    });
  });
  const closed = server.onclose;
  server.onclose = () => {
    stop();
    closed?.();
  };
  return server;
}
