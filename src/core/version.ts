/**
 * The version of agent-mesh (package.json's): the CLI reports it, the control plane answers it to `GetInfo`, and
 * each agent registers with it, so that `agent-mesh version` shows what runs where.
 */
export const MESH_VERSION = '0.1.0';
