import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { createAgentService } from '../agent/agent-service.js';
import { CertificateRenewer } from '../agent/certificate-renewer.js';
import { ControlPlaneClient } from '../control-plane/client.js';
import { startControlPlane } from '../control-plane/control-plane.js';
import { MemoryStore } from '../control-plane/stores/memory-store.js';
import type { AgentClient } from '../generated/agentmesh/v1/Agent.js';
import { CONTROL_PLANE_NAME } from '../identity/spiffe-id.js';
import { ensureCaDir, ensureIdentity } from '../identity/certs-dir.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { startServer, type RunningServer } from '../transport/server.js';
import { fromServiceError } from '../transport/status.js';
import { durationArgument } from './run.js';

const ECHO_AGENTS = ['echo-1', 'echo-2'];
const CALLER = 'caller';
const LEASE_TTL_MS = 6_000;

interface UpOptions {
  certs: string;
  listen: string;
  trustDomain: string;
  interval: number;
  logLevel: string;
}

/**
 * `agent-mesh up`: a local mesh on embedded defaults. It creates a development CA and identities in the
 * certificate directory when they are missing, starts a control plane with the in-memory store, starts two echo
 * agents that register and keep their leases, and has a caller agent discover them through the control plane and
 * invoke them in turn over mutual TLS. Ctrl-C deregisters the agents and stops everything cleanly.
 */
export function createUpCommand(): Command {
  return new Command('up')
    .description('run a local mesh on embedded defaults: control plane, example agents and real mTLS traffic')
    .addOption(
      new Option('--certs <dir>', 'certificate directory (created when missing)')
        .default('certs')
        .env('AGENT_MESH_CERTS'),
    )
    .addOption(
      new Option('--listen <host:port>', 'control plane address')
        .default('127.0.0.1:7400')
        .env('AGENT_MESH_LISTEN'),
    )
    .option('--trust-domain <domain>', 'trust domain of a newly created CA', 'agentmesh.local')
    .option('--interval <duration>', 'time between example calls', durationArgument, 1_000)
    .addOption(new Option('--log-level <level>', 'log level').default('info').env('AGENT_MESH_LOG_LEVEL'))
    .action((options: UpOptions) => runLocalMesh(options));
}

async function startEchoAgent(name: string, options: UpOptions, controlPlane: string, logger: Logger) {
  const identity = new MeshIdentity(await ensureIdentity(options.certs, name));
  const agentLogger = logger.child({ agent: name });
  const server = await startServer({
    identity,
    services: [
      createAgentService({
        identity,
        logger: agentLogger,
        methods: {
          echo: async (request, call) => ({
            payload: Buffer.from(`${name} heard ${call.caller.uri}: ${request.payload}`),
            contentType: 'text/plain',
          }),
        },
      }),
    ],
    reflection: [loadMeshProtos().packageDefinition],
  });
  const client = new ControlPlaneClient({ address: controlPlane, identity });
  await client.register(
    {
      type: 'echo',
      name,
      endpoint: server.address,
      capabilities: ['echo'],
      description: 'repeats what it hears',
    },
    LEASE_TTL_MS,
  );
  const renewer = new CertificateRenewer({ identity, client, logger: agentLogger });
  renewer.start();
  const heartbeat = setInterval(() => {
    client.heartbeat(name).catch((error: unknown) => agentLogger.warn({ err: error }, 'heartbeat failed'));
  }, LEASE_TTL_MS / 3);
  agentLogger.info(
    { address: server.address, spiffeId: identity.spiffeId.uri },
    'agent registered and serving over mTLS',
  );
  return {
    server,
    async stop() {
      renewer.stop();
      clearInterval(heartbeat);
      await client.deregister(name).catch(() => undefined);
      client.close();
      await server.shutdown(2_000);
    },
  };
}

async function runLocalMesh(options: UpOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel as 'info' });
  const ca = await ensureCaDir(options.certs, options.trustDomain);
  await ensureIdentity(options.certs, CONTROL_PLANE_NAME);
  const controlPlane = await startControlPlane({
    certsDir: options.certs,
    listen: options.listen,
    store: new MemoryStore(),
    logger,
  });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const agents: Array<{ server: RunningServer; stop(): Promise<void> }> = [];
  const channels = new Map<string, AgentClient>();
  try {
    for (const name of ECHO_AGENTS)
      agents.push(await startEchoAgent(name, options, controlPlane.address, logger));
    const caller = new MeshIdentity(await ensureIdentity(options.certs, CALLER));
    const discovery = new ControlPlaneClient({ address: controlPlane.address, identity: caller });
    const { protos } = loadMeshProtos();
    const callerLogger = logger.child({ agent: CALLER });
    console.log(
      `local mesh running: control plane at ${controlPlane.address} (trust domain ${ca.trustDomain}), agents ${ECHO_AGENTS.join(', ')}; press Ctrl-C to stop`,
    );
    try {
      for (let n = 0; !stop.signal.aborted; n += 1) {
        try {
          const { agents: found } = await discovery.discover({ type: 'echo' });
          const target = found[n % Math.max(1, found.length)];
          if (!target) throw new Error('no healthy echo agent registered');
          let channel = channels.get(target.id);
          if (!channel) {
            channel = new protos.agentmesh.v1.Agent(
              target.spec.endpoint,
              createChannelCredentials(caller, target.spiffeId),
              MESH_CHANNEL_OPTIONS,
            );
            channels.set(target.id, channel);
          }
          const reply = await invokeEcho(channel, `hello #${n}`);
          callerLogger.info({ callee: target.spiffeId, reply }, 'call answered');
        } catch (error) {
          callerLogger.warn({ err: fromServiceError(error) }, 'call failed');
        }
        await sleep(options.interval, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    } finally {
      discovery.close();
    }
    logger.info('stopping');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const channel of channels.values()) channel.close();
    await Promise.all(agents.map((agent) => agent.stop()));
    await controlPlane.close();
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
