/**
 * `agent-mesh/edge`: the agent ecosystem's protocols at the mesh's edge. Inbound, the mesh's skills as MCP tools
 * (on stdio with `agent-mesh mcp`, or over Streamable HTTP) and its agent types as A2A agents, at a gateway that
 * authenticates outside clients with bearer tokens mapped to mesh identities; outbound, MCP servers and A2A agents
 * adapted into the mesh as agents.
 */

export { startGateway } from './gateway.js';
export type { GatewayCaller, GatewayOptions, RunningGateway } from './gateway.js';
export { GATEWAY_TOKENS_FILE, GatewayTokens } from './gateway-tokens.js';
export type { StoredGatewayToken } from './gateway-tokens.js';
export { MeshTools } from './mesh-tools.js';
export type {
  MeshTool,
  MeshToolsOptions,
  ObjectSchema,
  ToolCallOptions,
  ToolContent,
  ToolResult,
} from './mesh-tools.js';
export { createMcpServer } from './mcp-server.js';
export type { McpServerOptions } from './mcp-server.js';
export { A2A_VERSION } from './a2a-gateway.js';
export { connectMcpServer } from './mcp-adapter.js';
export type { AdaptedServer, McpTarget } from './mcp-adapter.js';
export { connectA2aAgent } from './a2a-adapter.js';
