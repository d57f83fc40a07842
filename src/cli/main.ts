#!/usr/bin/env node
/** The `agent-mesh` command. */
import { Command } from 'commander';
import { runCli } from './run.js';
import { CLI_VERSION } from './version.js';

/**
 * A subcommand of `agent-mesh`: its name, the line `--help` shows for it, and how to load it. Only the command
 * a command line names is loaded (with gRPC, the CA, the runtime, as it needs them), so that `agent-mesh version`
 * or `agent-mesh agents list` does not pay for `up` and the gateway.
 */
interface Subcommand {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

const SUBCOMMANDS: readonly Subcommand[] = [
  {
    name: 'ca',
    summary: 'the certificate authority: create a root, issue, inspect and verify identities, rotate',
    load: async () => (await import('./ca-command.js')).createCaCommand(),
  },
  {
    name: 'token',
    summary: 'one-time join tokens for a new agent to obtain its first certificate',
    load: async () => (await import('./token-command.js')).createTokenCommand(),
  },
  {
    name: 'control-plane',
    summary: 'run a control plane: registry, discovery, policies, the CA, the dashboard',
    load: async () => (await import('./control-plane-command.js')).createControlPlaneCommand(),
  },
  {
    name: 'publish',
    summary: 'publish an event to a topic',
    load: async () => (await import('./publish-command.js')).createPublishCommand(),
  },
  {
    name: 'subscribe',
    summary: "print a topic pattern's events as they arrive",
    load: async () => (await import('./subscribe-command.js')).createSubscribeCommand(),
  },
  {
    name: 'events',
    summary: "the event store's topics, subscriptions and lag, dead letters and replay",
    load: async () => (await import('./events-command.js')).createEventsCommand(),
  },
  {
    name: 'agents',
    summary: 'list the registered agents, or show one with its card',
    load: async () => (await import('./agents-command.js')).createAgentsCommand(),
  },
  {
    name: 'policies',
    summary: "the mesh's policies: get them, validate a file, set them with a diff first",
    load: async () => (await import('./policies-command.js')).createPoliciesCommand(),
  },
  {
    name: 'call',
    summary: 'call an agent type through the mesh (balanced, with failover)',
    load: async () => (await import('./call-command.js')).createCallCommand(),
  },
  {
    name: 'top',
    summary: 'live calls per agent and method, in the terminal',
    load: async () => (await import('./top-command.js')).createTopCommand(),
  },
  {
    name: 'check',
    summary: 'check certificates, the trust bundle, the control plane, clocks and the store, with fixes',
    load: async () => (await import('./check-command.js')).createCheckCommand(),
  },
  {
    name: 'version',
    summary: "the CLI's version, the control plane's and the agents'",
    load: async () => (await import('./version-command.js')).createVersionCommand(),
  },
  {
    name: 'completion',
    summary: 'print a shell completion script (bash, zsh or fish)',
    load: async () => (await import('./completion-command.js')).createCompletionCommand(createFullProgram),
  },
  {
    name: 'mcp',
    summary: "serve the mesh's skills as MCP tools on stdio",
    load: async () => (await import('./mcp-command.js')).createMcpCommand(),
  },
  {
    name: 'gateway',
    summary: 'serve MCP and A2A over HTTP to outside clients, and manage its tokens',
    load: async () => (await import('./gateway-command.js')).createGatewayCommand(),
  },
  {
    name: 'adapter',
    summary: 'register an MCP server or an A2A agent as an agent of the mesh',
    load: async () => (await import('./adapter-command.js')).createAdapterCommand(),
  },
  {
    name: 'up',
    summary: 'run a local mesh on embedded defaults, with example agents and the dashboard',
    load: async () => (await import('./up-command.js')).createUpCommand(),
  },
  {
    name: 'sidecar',
    summary: 'run the sidecar of an agent written in another language',
    load: async () => (await import('./sidecar-command.js')).createSidecarCommand(),
  },
];

function rootProgram(): Command {
  return (
    new Command('agent-mesh')
      .description('a service mesh for AI agents: discovery, balancing, failover and pub/sub over mutual TLS')
      .version(CLI_VERSION)
      // Each command reads its own flags, wherever they are: `gateway token create --certs` is the token command's.
      .enablePositionalOptions()
  );
}

async function loaded(subcommand: Subcommand): Promise<Command> {
  return (await subcommand.load()).summary(subcommand.summary);
}

/**
 * Builds the program for a command line: the subcommand it names is loaded in full, the others are only named,
 * which is all `--help` shows of them. `help <command>` loads that command.
 */
export async function createProgram(args: readonly string[]): Promise<Command> {
  const first = args.find((arg) => !arg.startsWith('-'));
  const wanted = first === 'help' ? args[args.indexOf('help') + 1] : first;
  const program = rootProgram();
  for (const subcommand of SUBCOMMANDS) {
    if (subcommand.name === wanted) program.addCommand(await loaded(subcommand));
    else program.command(subcommand.name).summary(subcommand.summary).description(subcommand.summary);
  }
  return program;
}

/** The program with every subcommand loaded, for what needs them all (shell completion). */
export async function createFullProgram(): Promise<Command> {
  const program = rootProgram();
  for (const subcommand of SUBCOMMANDS) program.addCommand(await loaded(subcommand));
  return program;
}

await runCli(await createProgram(process.argv.slice(2)));
