import { agentCard, toA2aAgentCard } from '../core/agent-card.js';
import { Command } from 'commander';
import type { AgentRecord } from '../core/agent-record.js';
import { formatDuration } from '../core/duration.js';
import { Code, MeshError } from '../core/errors.js';
import {
  labelSelectorArgument,
  withClientOptions,
  withControlPlane,
  type ClientFlags,
} from './client-options.js';
import { collect, nonEmptyArgument } from './run.js';
import { formatTable } from './table.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';

interface ListFlags extends ClientFlags, OutputFlags {
  type?: string;
  capability: string[];
  selector?: string;
}

interface ShowFlags extends ClientFlags, OutputFlags {
  card: boolean;
  a2a: boolean;
}

/**
 * One agent as `agents list --json` and `agents show --json` print it. The field names are a contract with
 * scripts: they follow `AgentRecord`, with times as ISO 8601 strings, and change only by adding fields.
 */
export interface AgentDocument {
  id: string;
  spiffeId: string;
  health: string;
  spec: {
    type: string;
    name: string;
    endpoint: string;
    capabilities: string[];
    labels: Record<string, string>;
    weight: number;
    maxConcurrency: number;
    description: string;
    subscriptions: Array<{ pattern: string; group: string; maxInFlight: number }>;
    /** Skill ids; `agents show <id> --card` prints the skills in full. */
    skills: string[];
  };
  load: { inFlight: number; queueDepth: number };
  registeredAt: string;
  leaseExpiresAt: string;
  leaseTtlMs: number;
  revision: number;
}

/** The JSON document of one agent, field by field, so that internal additions to the record do not leak out. */
export function agentDocument(record: AgentRecord): AgentDocument {
  const { spec } = record;
  return {
    id: record.id,
    spiffeId: record.spiffeId,
    health: record.health,
    spec: {
      type: spec.type,
      name: spec.name,
      endpoint: spec.endpoint,
      capabilities: [...spec.capabilities],
      labels: { ...spec.labels },
      weight: spec.weight,
      maxConcurrency: spec.maxConcurrency,
      description: spec.description,
      subscriptions: spec.subscriptions.map(({ pattern, group, maxInFlight }) => ({
        pattern,
        group,
        maxInFlight,
      })),
      skills: spec.skills.map((skill) => skill.id),
    },
    load: { inFlight: record.load.inFlight, queueDepth: record.load.queueDepth },
    registeredAt: new Date(record.registeredAt).toISOString(),
    leaseExpiresAt: new Date(record.leaseExpiresAt).toISOString(),
    leaseTtlMs: record.leaseTtlMs,
    revision: record.revision,
  };
}

/** Time left, short enough for a table: `in 14s`, `in 4m05s`, `in 2h10m`, or `expired`. */
function timeLeft(until: number, now: number): string {
  const seconds = Math.ceil((until - now) / 1_000);
  if (seconds <= 0) return 'expired';
  if (seconds < 60) return `in ${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `in ${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `in ${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

function agentTable(records: AgentRecord[], now: number): string {
  return formatTable([
    ['ID', 'TYPE', 'HEALTH', 'ENDPOINT', 'IN-FLIGHT', 'EXPIRES', 'SPIFFE ID'],
    ...records.map((record) => [
      record.id,
      record.spec.type,
      record.health,
      record.spec.endpoint,
      String(record.load.inFlight),
      timeLeft(record.leaseExpiresAt, now),
      record.spiffeId,
    ]),
  ]);
}

/** One agent as `agents show` prints it: a label and a value per line, lists one item per line. */
function agentDetails(record: AgentRecord, now: number): string {
  const { spec } = record;
  const labels = Object.entries(spec.labels).map(([key, value]) => `${key}=${value}`);
  const subscriptions = spec.subscriptions.map(
    (s) =>
      `${s.pattern}${s.group ? ` (group ${s.group})` : ''}${s.maxInFlight ? `, max in flight ${s.maxInFlight}` : ''}`,
  );
  const rows: Array<[string, string[]]> = [
    ['ID', [record.id]],
    ['SPIFFE ID', [record.spiffeId]],
    ['Type', [spec.type]],
    ['Health', [record.health]],
    ['Endpoint', [spec.endpoint]],
    ['Capabilities', spec.capabilities.length > 0 ? spec.capabilities : ['(none)']],
    ['Labels', labels.length > 0 ? labels : ['(none)']],
    ['Subscriptions', subscriptions.length > 0 ? subscriptions : ['(none)']],
    ['Description', [spec.description || '(none)']],
    ['Weight', [String(spec.weight)]],
    ['Max concurrency', [spec.maxConcurrency > 0 ? String(spec.maxConcurrency) : 'unlimited']],
    ['Load', [`${record.load.inFlight} in flight, ${record.load.queueDepth} queued`]],
    ['Registered', [new Date(record.registeredAt).toISOString()]],
    [
      'Lease',
      [
        `expires ${new Date(record.leaseExpiresAt).toISOString()} (${timeLeft(record.leaseExpiresAt, now)}), TTL ${formatDuration(record.leaseTtlMs)}`,
      ],
    ],
    ['Revision', [String(record.revision)]],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows
    .flatMap(([label, values]) =>
      values.map((value, index) => `${(index === 0 ? `${label}:` : '').padEnd(width)}${value}`),
    )
    .join('\n');
}

/** The card as text: who the agent is, then each skill with its tags, media types and schemas. */
function cardDetails(record: AgentRecord): string {
  const card = agentCard(record);
  const lines = [
    `${card.name} (${card.type})${card.description ? `: ${card.description}` : ''}`,
    `  identity  ${card.spiffeId}`,
    `  endpoint  ${card.endpoint}`,
  ];
  if (card.skills.length === 0) lines.push('  skills    (none)');
  for (const skill of card.skills) {
    lines.push('', `  ${skill.id}${skill.name !== skill.id ? ` (${skill.name})` : ''}`);
    if (skill.description) lines.push(`    ${skill.description}`);
    if (skill.tags.length > 0) lines.push(`    tags: ${skill.tags.join(', ')}`);
    const media = (types: string[]) => (types.length > 0 ? types.join(', ') : 'application/json');
    lines.push(`    in: ${media(skill.inputContentTypes)}   out: ${media(skill.outputContentTypes)}`);
    if (skill.inputSchema !== undefined) lines.push(`    input schema: ${JSON.stringify(skill.inputSchema)}`);
    if (skill.outputSchema !== undefined)
      lines.push(`    output schema: ${JSON.stringify(skill.outputSchema)}`);
    for (const example of skill.examples) lines.push(`    example: ${example}`);
  }
  return lines.join('\n');
}

/** What `agents show` prints: the record, the card, or the card in A2A's shape (always JSON: it is for tools). */
async function printAgent(record: AgentRecord, flags: ShowFlags): Promise<void> {
  if (flags.a2a) {
    // A card for A2A tooling: JSON unless YAML is asked for.
    const card = toA2aAgentCard(record);
    await printResult(flags, card, () => JSON.stringify(card, null, 2));
    return;
  }
  if (flags.card) await printResult(flags, agentCard(record), () => cardDetails(record));
  else await printResult(flags, agentDocument(record), () => agentDetails(record, Date.now()));
}

/** `agent-mesh agents list|show`: what the control plane knows about the registered agents. */
export function createAgentsCommand(): Command {
  const agents = new Command('agents').description(
    'inspect the agents registered with the control plane: list them, or show one',
  );

  agents.addCommand(
    withClientOptions(
      withOutputOptions(new Command('list'))
        .description(
          'list registered agents, unhealthy and draining ones included, as a table (or -o json|yaml)',
        )
        .option('--type <type>', 'only agents of this type', nonEmptyArgument)
        .option(
          '--capability <capability>',
          'only agents with this capability (repeatable: agents must have every one)',
          (value: string, previous: string[]) => collect(nonEmptyArgument(value), previous),
          [],
        )
        .option(
          '--selector <selector>',
          "only agents whose labels match, e.g. 'zone=eu-1,model in (large,xl),!beta'",
          labelSelectorArgument,
        ),
    ).action(async (flags: ListFlags) => {
      const { agents: found } = await withControlPlane(flags, (client) =>
        client.discover({
          ...(flags.type ? { type: flags.type } : {}),
          ...(flags.capability.length > 0 ? { capabilities: flags.capability } : {}),
          ...(flags.selector ? { labelSelector: flags.selector } : {}),
          includeUnhealthy: true,
        }),
      );
      await printResult(flags, found.map(agentDocument), () => {
        if (found.length > 0) return agentTable(found, Date.now());
        const filtered = flags.type || flags.capability.length > 0 || flags.selector;
        process.stderr.write(filtered ? 'no registered agent matches\n' : 'no agent is registered\n');
        return undefined;
      });
    }),
  );

  agents.addCommand(
    withClientOptions(
      withOutputOptions(new Command('show'))
        .description(
          "show one agent's full record: spec, capabilities, labels, subscriptions, health, load, identity, lease",
        )
        .argument('<id>', 'the agent id (its registered name), as `agents list` shows it', nonEmptyArgument)
        .option('--card', "print the agent's card: its description and skills (tools)", false)
        .option('--a2a', 'print the card in the A2A AgentCard JSON shape, for A2A tooling', false),
    ).action(async (id: string, flags: ShowFlags) => {
      const record = await withControlPlane(flags, (client) =>
        client.getAgent(id).catch((error: unknown) => {
          if (error instanceof MeshError && error.code === Code.NOT_FOUND) {
            throw new MeshError(
              Code.NOT_FOUND,
              `no agent "${id}" is registered with the control plane at ${flags.controlPlane} (\`agent-mesh agents list\` shows the registered ones)`,
              { cause: error },
            );
          }
          throw error;
        }),
      );
      await printAgent(record, flags);
    }),
  );

  return agents;
}
