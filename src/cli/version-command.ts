import { Command } from 'commander';
import { withClientOptions, withControlPlane, type ClientFlags } from './client-options.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { formatTable } from './table.js';
import { CLI_VERSION } from './version.js';

interface VersionFlags extends ClientFlags, OutputFlags {
  client: boolean;
}

/** `agent-mesh version -o json`: what runs where. Fields are only ever added. */
export interface VersionDocument {
  client: string;
  controlPlane?: { address: string; version: string };
  /** The agents by the agent-mesh version they registered with ("unknown" when they did not say). */
  agents?: Array<{ version: string; count: number; agents: string[] }>;
}

/** How many agent ids a version's row names before it says "and N more". */
const NAMED_AGENTS = 5;

/**
 * `agent-mesh version`: the CLI's version, the control plane's, and the agents' (from their registrations);
 * `--client` only the CLI's, without the control plane.
 */
export function createVersionCommand(): Command {
  return withOutputOptions(
    withClientOptions(new Command('version'))
      .description("print the CLI's version, the control plane's, and the versions the registered agents run")
      .option('--client', "only the CLI's version: do not ask the control plane", false),
  ).action(async (flags: VersionFlags) => {
    if (flags.client) {
      await printResult(
        flags,
        { client: CLI_VERSION } satisfies VersionDocument,
        () => `client  ${CLI_VERSION}`,
      );
      return;
    }
    const document = await withControlPlane(flags, async (client): Promise<VersionDocument> => {
      const [info, { agents }] = await Promise.all([
        client.getInfo(),
        client.discover({ includeUnhealthy: true }),
      ]);
      const byVersion = new Map<string, string[]>();
      for (const agent of agents) {
        const version = agent.spec.meshVersion ?? 'unknown';
        const ids = byVersion.get(version);
        if (ids) ids.push(agent.id);
        else byVersion.set(version, [agent.id]);
      }
      return {
        client: CLI_VERSION,
        controlPlane: { address: flags.controlPlane, version: info.version },
        agents: [...byVersion]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([version, ids]) => ({ version, count: ids.length, agents: ids.sort() })),
      };
    });
    await printResult(flags, document, () => versionTable(document));
  });
}

function versionTable(document: VersionDocument): string {
  const rows = [
    ['COMPONENT', 'VERSION', 'WHERE'],
    ['client', document.client, 'this CLI'],
    ['control plane', document.controlPlane!.version, document.controlPlane!.address],
  ];
  for (const { version, count, agents } of document.agents ?? []) {
    const named = agents.slice(0, NAMED_AGENTS).join(', ');
    const more = count > NAMED_AGENTS ? ` and ${count - NAMED_AGENTS} more` : '';
    rows.push([`agents (${count})`, version, `${named}${more}`]);
  }
  if ((document.agents ?? []).length === 0) rows.push(['agents', '-', 'none registered']);
  return formatTable(rows);
}
