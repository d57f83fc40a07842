import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AppConnection } from '../../src/sidecar/app-connection.js';
import { loadMeshProtos } from '../../src/transport/protos.js';

describe('the sidecar tells its app the call priority', () => {
  it('forwards x-agentmesh-priority to the app (so its outbound calls keep the class)', async () => {
    const { protos } = loadMeshProtos();
    const server = new grpc.Server();
    let seen: Record<string, unknown> = {};
    server.addService(protos.agentmesh.v1.Agent.service, {
      Invoke: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        seen = call.metadata.getMap();
        cb(null, { payload: Buffer.from('ok'), contentType: 'text/plain' });
      },
      InvokeStream: () => undefined,
      DeliverEvents: () => undefined,
    });
    const port = await new Promise<number>((r, j) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))),
    );
    const app = new AppConnection(`127.0.0.1:${port}`);
    await app.invoke(Buffer.alloc(0), {
      caller: { uri: 'spiffe://agentmesh.local/agent/c' },
      deadline: Infinity,
      context: { chain: ['spiffe://agentmesh.local/agent/c'], priority: 'interactive' },
    } as never);
    app.close();
    server.forceShutdown();
    expect(seen['x-agentmesh-priority']).toBe('interactive');
  });
});
