import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../src/core/errors.js';
import { AgentConnection } from '../../src/transport/agent-connection.js';
import type { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { startServer, type RunningServer } from '../../src/transport/server.js';
import { createTestCa } from '../helpers/test-ca.js';

const SERVER_ID = 'spiffe://agentmesh.local/agent/odd-1';
const REQUEST = { method: 'echo', payload: Buffer.from('hello'), contentType: 'text/plain' };

/**
 * The unary attempt of a generic call, which a mesh client makes on the channel itself (not through the generated
 * client): what it answers for a good answer, a server's status, an answer that cannot be decoded and a server that
 * is not there, against real mTLS servers.
 */
describe('an agent connection', () => {
  let client: MeshIdentity;
  let good: RunningServer;
  let garbled: RunningServer;
  const connections: AgentConnection[] = [];

  beforeAll(async () => {
    const ca = await createTestCa();
    const server = await ca.identity('odd-1');
    client = await ca.identity('caller');
    const { service } = loadMeshProtos().protos.agentmesh.v1.Agent;
    const implementation = {
      Invoke: (
        call: grpc.ServerUnaryCall<{ method: string; payload: Buffer }, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        if (call.request.method === 'refuse') {
          const trailers = new grpc.Metadata();
          trailers.set('x-agentmesh-status', '1');
          return callback({ code: grpc.status.FAILED_PRECONDITION, details: 'not now', metadata: trailers });
        }
        callback(null, { payload: call.request.payload, contentType: 'text/plain' });
      },
    };
    good = await startServer({
      identity: server,
      services: [{ name: 'agentmesh.v1.Agent', definition: service, implementation }],
    });
    // A server whose answers are not InvokeResponse messages: a field number 15 of wire type 7, which no decoder takes.
    const garbledDefinition = {
      ...service,
      Invoke: { ...service.Invoke, responseSerialize: () => Buffer.from([0x7f, 0xff, 0xff]) },
    };
    garbled = await startServer({
      identity: server,
      services: [{ name: 'agentmesh.v1.Agent', definition: garbledDefinition, implementation }],
    });
  });

  afterAll(async () => {
    for (const connection of connections) connection.close();
    await Promise.all([good?.shutdown(0), garbled?.shutdown(0)]);
  });

  const connect = (address: string) => {
    const connection = new AgentConnection(address, client, SERVER_ID);
    connections.push(connection);
    return connection;
  };
  const attempt = (connection: AgentConnection, method = 'echo') =>
    connection.invoke(
      { ...REQUEST, method },
      { traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01' },
      Date.now() + 10_000,
      connection.acquire(),
    );

  it('answers with the decoded response', async () => {
    const outcome = await attempt(connect(good.address));
    expect(outcome).toEqual({
      ok: true,
      value: { payload: Buffer.from('hello'), contentType: 'text/plain' },
    });
  });

  it("fails with the server's status, saying the server sent it", async () => {
    const outcome = await attempt(connect(good.address), 'refuse');
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(Code.FAILED_PRECONDITION);
    expect(outcome.error.message).toBe('not now');
    // The cause is an Error carrying the status, as grpc-js's clients give it: logs show it as the cause.
    expect(outcome.error.cause).toBeInstanceOf(Error);
    expect((outcome.error.cause as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(outcome.serverStatus).toBe(true);
    expect(outcome.answered).toBe(true);
  });

  it('fails INTERNAL, saying why, for an answer that cannot be decoded, and the connection keeps serving', async () => {
    const connection = connect(garbled.address);
    const outcome = await attempt(connection);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(Code.INTERNAL);
    expect(outcome.error.message).toMatch(/^the answer cannot be decoded: /);
    // The same connection answers the next attempt as well.
    const again = await attempt(connection);
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.code).toBe(Code.INTERNAL);
  });

  it('fails UNAVAILABLE when no server is there, saying the request never left', async () => {
    const closed = await startServer({ identity: client, services: [] });
    const address = closed.address;
    await closed.shutdown(0);
    const outcome = await attempt(connect(address));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(Code.UNAVAILABLE);
    expect(outcome.neverSent).toBe(true);
    expect(outcome.answered).toBe(false);
  });
});
