/** The version of agent-mesh (package.json's), as the CLI reports it and its MCP server names itself. */
export const CLI_VERSION = '0.1.0';
