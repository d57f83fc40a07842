import * as grpc from '@grpc/grpc-js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import type { InvokeResponse__Output } from '../../src/generated/agentmesh/v1/InvokeResponse.js';
import { MESH_CHANNEL_OPTIONS, peerIdentity } from '../../src/transport/credentials.js';
import type { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { startServer, type RunningServer } from '../../src/transport/server.js';

/**
 * Starts an `agentmesh.v1.Agent` server over mTLS whose Invoke answers with the caller's verified SPIFFE ID, and
 * counts the calls that reached the handler (a refused call must never get there).
 */
export async function startWhoAmIServer(
  identity: MeshIdentity,
  credentials?: grpc.ServerCredentials,
  onCall?: (call: grpc.ServerUnaryCall<unknown, unknown>) => void,
): Promise<{ running: RunningServer; handled: () => number; close(): Promise<void> }> {
  const { protos, packageDefinition } = loadMeshProtos();
  let handled = 0;
  const implementation = {
    Invoke: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      handled += 1;
      onCall?.(call);
      const caller = peerIdentity(call, identity);
      callback(null, { payload: Buffer.from(caller.uri), contentType: 'text/plain' });
    },
  };
  const service = {
    name: 'agentmesh.v1.Agent',
    definition: protos.agentmesh.v1.Agent.service,
    implementation,
  };
  let running: RunningServer;
  if (credentials) {
    // A server with credentials of the test's choosing (e.g. a forged certificate), to test clients' checks.
    const server = new grpc.Server();
    server.addService(service.definition, implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    running = {
      server,
      port,
      address: `127.0.0.1:${port}`,
      health: undefined as never,
      shutdown: async () => server.forceShutdown(),
      forceShutdown: () => server.forceShutdown(),
    };
  } else {
    running = await startServer({ identity, services: [service], reflection: [packageDefinition] });
  }
  return { running, handled: () => handled, close: () => running.shutdown(0) };
}

/** Calls Invoke once and resolves with the response and the client call (to read the server's identity). */
export function invoke(
  client: AgentClient,
  method = 'whoami',
): Promise<{ response: InvokeResponse__Output; call: grpc.ClientUnaryCall }> {
  return new Promise((resolve, reject) => {
    const call = client.Invoke(
      { method, payload: Buffer.alloc(0), contentType: 'text/plain' },
      { deadline: Date.now() + 5_000 },
      (error, response) => (error || !response ? reject(error) : resolve({ response, call })),
    );
  });
}

/** Creates a typed Agent client for `address` with the given credentials. */
export function agentClient(address: string, credentials: grpc.ChannelCredentials): AgentClient {
  const { protos } = loadMeshProtos();
  return new protos.agentmesh.v1.Agent(address, credentials, MESH_CHANNEL_OPTIONS);
}
