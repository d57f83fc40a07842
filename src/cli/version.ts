import { MESH_VERSION } from '../core/version.js';

/** The version of agent-mesh, as the CLI reports it and its MCP server names itself. */
export const CLI_VERSION = MESH_VERSION;
