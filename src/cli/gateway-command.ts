import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { Code, MeshError } from '../core/errors.js';
import { startGateway } from '../edge/gateway.js';
import { GatewayTokens } from '../edge/gateway-tokens.js';
import { loadIdentity } from '../identity/certs-dir.js';
import { createLogger } from '../observability/logger.js';
import { connectedIdentity, withClientOptions, type ClientFlags } from './client-options.js';
import {
  durationArgument,
  durationOption,
  httpListenArgument,
  logLevelOption,
  nonEmptyArgument,
} from './run.js';
import { listenForShutdown } from './shutdown-signal.js';
import { formatTable } from './table.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { CLI_VERSION } from './version.js';

interface GatewayFlags extends ClientFlags {
  listen: string;
  allowAnonymous?: string;
  timeout: number;
  logLevel: LevelWithSilent;
}

const DEFAULT_LISTEN = '127.0.0.1:7410';

/**
 * `agent-mesh gateway`: the mesh's edge for outside clients over HTTP (MCP's Streamable HTTP at /mcp, A2A at
 * /a2a/<type>), authenticated by bearer tokens (`agent-mesh gateway token create|list|revoke`). It follows the
 * registry as `--name` (default `gateway`) and calls into the mesh as each token's identity.
 */
export function createGatewayCommand(): Command {
  const gateway = withClientOptions(
    new Command('gateway')
      .description(
        'serve MCP (/mcp) and A2A (/a2a/<type>) over HTTP to clients outside the mesh, with bearer tokens',
      )
      .addOption(
        new Option('--listen <host:port>', 'where to serve HTTP (port 0: a free port)')
          .default(DEFAULT_LISTEN)
          .env('AGENT_MESH_GATEWAY_LISTEN')
          .argParser(httpListenArgument),
      )
      .option(
        '--allow-anonymous <identity>',
        'let requests without a token act as this identity (loopback addresses only)',
        nonEmptyArgument,
      )
      .addOption(durationOption('--timeout <duration>', 'deadline of each call into the mesh', 30_000))
      .addOption(logLevelOption('info')),
    // The gateway's own identity, not the CLI's: `up` issues it.
    { name: 'gateway' },
  );
  gateway.action(async (flags: GatewayFlags) => {
    const logger = createLogger({ level: flags.logLevel });
    const identity = await connectedIdentity(flags);
    const shutdown = listenForShutdown(logger);
    try {
      const running = await startGateway({
        identity,
        controlPlane: flags.controlPlane,
        certsDir: flags.certs,
        listen: flags.listen,
        logger,
        timeoutMs: flags.timeout,
        version: CLI_VERSION,
        ...(flags.allowAnonymous ? { anonymous: flags.allowAnonymous } : {}),
      });
      console.log(
        `agent-mesh gateway: serving ${running.url}/mcp (MCP) and ${running.url}/a2a (A2A); Ctrl-C stops it`,
      );
      await shutdown.received;
      await running.close();
    } finally {
      shutdown.dispose();
    }
  });
  // `gateway token create --certs x`: the flags after `token` are the token command's own.
  gateway.enablePositionalOptions().addCommand(createTokenCommand());
  return gateway;
}

/** `agent-mesh gateway token create|list|revoke`: the bearer tokens of outside clients, in the certificate directory. */
function createTokenCommand(): Command {
  const certs = () =>
    new Option('--certs <dir>', 'certificate directory (holds gateway-tokens.json)')
      .default('certs')
      .env('AGENT_MESH_CERTS');
  const token = new Command('token').description("manage the gateway's bearer tokens for outside clients");
  token
    .command('create')
    .description('print a new bearer token acting as <identity> (shown once; only its hash is kept)')
    .argument(
      '<identity>',
      'the mesh identity its bearer acts as: <identity>.crt and .key in --certs',
      nonEmptyArgument,
    )
    .addOption(
      new Option('--ttl <duration>', 'how long it stays valid (default: until revoked)').argParser(
        durationArgument,
      ),
    )
    .option('--note <text>', 'who has it, for `token list`', '')
    .addOption(certs())
    .action(async (identity: string, flags: { ttl?: number; note: string; certs: string }) => {
      try {
        await loadIdentity(flags.certs, identity);
      } catch (error) {
        throw new MeshError(
          Code.FAILED_PRECONDITION,
          `${(error as Error).message}; the gateway calls the mesh with that identity's certificate`,
        );
      }
      const tokens = new GatewayTokens(flags.certs);
      const { token: value, stored } = await tokens.create(identity, {
        ...(flags.ttl !== undefined ? { ttlMs: flags.ttl } : {}),
        note: flags.note,
      });
      console.log(value);
      const until = stored.expiresAt ? `until ${new Date(stored.expiresAt).toISOString()}` : 'until revoked';
      console.error(
        `token ${stored.id} acts as ${identity}, valid ${until}; revoke: agent-mesh gateway token revoke ${stored.id}`,
      );
    });
  withOutputOptions(token.command('list'))
    .description('list the tokens (ids, identities, expiry; never the secrets)')
    .addOption(certs())
    .action(async (flags: OutputFlags & { certs: string }) => {
      const now = Date.now();
      const stored = await new GatewayTokens(flags.certs).list();
      const documents = stored.map(({ id, identity, createdAt, expiresAt, note }) => ({
        id,
        identity,
        createdAt: new Date(createdAt).toISOString(),
        expiresAt: expiresAt === 0 ? null : new Date(expiresAt).toISOString(),
        note,
      }));
      const rows = stored.map((stored) => [
        stored.id,
        stored.identity,
        new Date(stored.createdAt).toISOString(),
        stored.expiresAt === 0
          ? 'never'
          : `${new Date(stored.expiresAt).toISOString()}${stored.expiresAt <= now ? ' (expired)' : ''}`,
        stored.note,
      ]);
      await printResult(flags, documents, () =>
        rows.length === 0
          ? 'no tokens: agent-mesh gateway token create <identity>'
          : formatTable([['ID', 'IDENTITY', 'CREATED', 'EXPIRES', 'NOTE'], ...rows]),
      );
    });
  token
    .command('revoke')
    .description('revoke a token: the gateway refuses it from the next request on')
    .argument('<id>', 'the token id (`token list`)', nonEmptyArgument)
    .addOption(certs())
    .action(async (id: string, flags: { certs: string }) => {
      if (!(await new GatewayTokens(flags.certs).revoke(id))) {
        throw new MeshError(Code.NOT_FOUND, `no token ${id}: agent-mesh gateway token list shows them`);
      }
      console.log(`token ${id} revoked`);
    });
  return token;
}
