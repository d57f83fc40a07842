import type { AgentRecord, Skill } from './agent-record.js';

/** A2A protocol version whose AgentCard shape {@link toA2aAgentCard} follows. */
export const A2A_PROTOCOL_VERSION = '0.3.0';

/** An agent's card: who it is and the tools it offers, as the registry knows them. */
export interface AgentCard {
  name: string;
  type: string;
  description: string;
  spiffeId: string;
  endpoint: string;
  capabilities: string[];
  labels: Record<string, string>;
  skills: Array<
    Omit<Skill, 'inputSchema' | 'outputSchema'> & { inputSchema?: unknown; outputSchema?: unknown }
  >;
}

/** The card of a registered agent; schemas are parsed back into JSON values. */
export function agentCard(record: AgentRecord): AgentCard {
  const { spec } = record;
  return {
    name: spec.name,
    type: spec.type,
    description: spec.description,
    spiffeId: record.spiffeId,
    endpoint: spec.endpoint,
    capabilities: [...spec.capabilities],
    labels: { ...spec.labels },
    skills: spec.skills.map(({ inputSchema, outputSchema, ...skill }) => ({
      ...skill,
      name: skill.name || skill.id,
      ...(inputSchema ? { inputSchema: JSON.parse(inputSchema) as unknown } : {}),
      ...(outputSchema ? { outputSchema: JSON.parse(outputSchema) as unknown } : {}),
    })),
  };
}

/**
 * The card in the A2A `AgentCard` JSON shape, so that A2A tooling can read what the agent offers. The agent is
 * reached through the mesh (gRPC over mutual TLS with a mesh identity), not over A2A's own transports: `url`
 * names its mesh endpoint, and the mesh specifics sit in an `agentmesh` extension field.
 */
export function toA2aAgentCard(record: AgentRecord): Record<string, unknown> {
  const card = agentCard(record);
  const modes = (types: string[]) => (types.length > 0 ? types : ['application/json']);
  return {
    protocolVersion: A2A_PROTOCOL_VERSION,
    name: card.name,
    description: card.description || `${card.type} agent`,
    url: `grpcs://${card.endpoint}`,
    version: String(record.revision),
    capabilities: { streaming: true, pushNotifications: false, stateTransitionHistory: false },
    defaultInputModes: ['application/json'],
    defaultOutputModes: ['application/json'],
    skills: card.skills.map((skill) => ({
      id: skill.id,
      name: skill.name,
      description: skill.description || skill.name,
      tags: skill.tags,
      ...(skill.examples.length > 0 ? { examples: skill.examples } : {}),
      inputModes: modes(skill.inputContentTypes),
      outputModes: modes(skill.outputContentTypes),
    })),
    agentmesh: {
      type: card.type,
      spiffeId: card.spiffeId,
      capabilities: card.capabilities,
      labels: card.labels,
      schemas: Object.fromEntries(
        card.skills
          .filter((skill) => skill.inputSchema !== undefined || skill.outputSchema !== undefined)
          .map((skill) => [skill.id, { input: skill.inputSchema, output: skill.outputSchema }]),
      ),
    },
  };
}
