#!/usr/bin/env node
/** The `agent-mesh` command. */
import { Command } from 'commander';
import { createAgentsCommand } from './agents-command.js';
import { createEventsCommand } from './events-command.js';
import { createCaCommand } from './ca-command.js';
import { createCallCommand } from './call-command.js';
import { createControlPlaneCommand } from './control-plane-command.js';
import { createPublishCommand } from './publish-command.js';
import { createSubscribeCommand } from './subscribe-command.js';
import { runCli } from './run.js';
import { createSidecarCommand } from './sidecar-command.js';
import { createTokenCommand } from './token-command.js';
import { createAdapterCommand } from './adapter-command.js';
import { createGatewayCommand } from './gateway-command.js';
import { createMcpCommand } from './mcp-command.js';
import { CLI_VERSION } from './version.js';
import { createUpCommand } from './up-command.js';

/** Builds the `agent-mesh` program with all its subcommands. */
export function createProgram(): Command {
  return (
    new Command('agent-mesh')
      .description('a service mesh for AI agents: discovery, balancing, failover and pub/sub over mutual TLS')
      .version(CLI_VERSION)
      // Each command reads its own flags, wherever they are: `gateway token create --certs` is the token command's.
      .enablePositionalOptions()
      .addCommand(createCaCommand())
      .addCommand(createTokenCommand())
      .addCommand(createControlPlaneCommand())
      .addCommand(createPublishCommand())
      .addCommand(createSubscribeCommand())
      .addCommand(createEventsCommand())
      .addCommand(createAgentsCommand())
      .addCommand(createCallCommand())
      .addCommand(createMcpCommand())
      .addCommand(createGatewayCommand())
      .addCommand(createAdapterCommand())
      .addCommand(createUpCommand())
      .addCommand(createSidecarCommand())
  );
}

await runCli(createProgram());
