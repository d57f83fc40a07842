import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { createAgentService } from '../agent/agent-service.js';
import type { AgentClient } from '../generated/agentmesh/v1/Agent.js';
import { ensureCaDir, ensureIdentity } from '../identity/certs-dir.js';
import { createLogger } from '../observability/logger.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { startServer, type RunningServer } from '../transport/server.js';
import { fromServiceError } from '../transport/status.js';
import { durationArgument } from './run.js';

const ECHO_AGENTS = ['echo-1', 'echo-2'];
const CALLER = 'caller';

interface UpOptions {
  certs: string;
  trustDomain: string;
  interval: number;
  logLevel: string;
}

/**
 * `agent-mesh up`: a local mesh on embedded defaults. It creates a development CA and identities in the
 * certificate directory when they are missing, starts two echo agents over mutual TLS on loopback, and has a
 * caller agent invoke them in turn, each side verifying the other's SPIFFE ID. Ctrl-C stops it cleanly.
 */
export function createUpCommand(): Command {
  return new Command('up')
    .description(
      'run a local mesh on embedded defaults: a development CA, example agents and real mTLS traffic',
    )
    .addOption(
      new Option('--certs <dir>', 'certificate directory (created when missing)')
        .default('certs')
        .env('AGENT_MESH_CERTS'),
    )
    .option('--trust-domain <domain>', 'trust domain of a newly created CA', 'agentmesh.local')
    .option('--interval <duration>', 'time between example calls', durationArgument, 1_000)
    .addOption(new Option('--log-level <level>', 'log level').default('info').env('AGENT_MESH_LOG_LEVEL'))
    .action((options: UpOptions) => runLocalMesh(options));
}

async function runLocalMesh(options: UpOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel as 'info' });
  const ca = await ensureCaDir(options.certs, options.trustDomain);
  logger.info({ trustDomain: ca.trustDomain, certs: options.certs }, 'certificate authority ready');

  const servers: RunningServer[] = [];
  const clients: AgentClient[] = [];
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const name of ECHO_AGENTS) {
      const identity = new MeshIdentity(await ensureIdentity(options.certs, name));
      const agentLogger = logger.child({ agent: name });
      const service = createAgentService({
        identity,
        logger: agentLogger,
        methods: {
          echo: async (request, call) => {
            agentLogger.info({ caller: call.caller.uri }, 'echo');
            return {
              payload: Buffer.from(`${name} heard ${call.caller.uri}: ${request.payload}`),
              contentType: 'text/plain',
            };
          },
        },
      });
      const running = await startServer({
        identity,
        services: [service],
        reflection: [loadMeshProtos().packageDefinition],
      });
      servers.push(running);
      logger.info(
        { agent: name, address: running.address, spiffeId: identity.spiffeId.uri },
        'agent serving over mTLS',
      );
    }

    const caller = new MeshIdentity(await ensureIdentity(options.certs, CALLER));
    const { protos } = loadMeshProtos();
    for (const [index, name] of ECHO_AGENTS.entries()) {
      const expected = `spiffe://${ca.trustDomain}/agent/${name}`;
      clients.push(
        new protos.agentmesh.v1.Agent(
          servers[index]!.address,
          createChannelCredentials(caller, expected),
          MESH_CHANNEL_OPTIONS,
        ),
      );
    }
    console.log(
      `local mesh running: ${ECHO_AGENTS.map((name, i) => `${name} at ${servers[i]!.address}`).join(', ')}; press Ctrl-C to stop`,
    );

    for (let n = 0; !stop.signal.aborted; n += 1) {
      const client = clients[n % clients.length]!;
      try {
        const reply = await invokeEcho(client, `hello #${n}`);
        logger.child({ agent: CALLER }).info({ reply }, 'call answered');
      } catch (error) {
        logger.child({ agent: CALLER }).warn({ err: fromServiceError(error) }, 'call failed');
      }
      await sleep(options.interval, undefined, { signal: stop.signal }).catch(() => undefined);
    }
    logger.info('stopping');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.shutdown(2_000)));
  }
}

function invokeEcho(client: AgentClient, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Invoke(
      { method: 'echo', payload: Buffer.from(text), contentType: 'text/plain' },
      { deadline: Date.now() + 5_000 },
      (error, response) => (error || !response ? reject(error) : resolve(response.payload.toString())),
    );
  });
}
