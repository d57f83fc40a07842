import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentService } from '../../src/agent/agent-service.js';
import { Code, MeshError } from '../../src/core/errors.js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import type { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { loadMeshProtos, loadProtos } from '../../src/transport/protos.js';
import { startServer, type RunningServer } from '../../src/transport/server.js';
import type { ProtoGrpcType as TranslatorProtos } from '../fixtures/generated/translator.js';
import type { TranslatorClient } from '../fixtures/generated/demo/v1/Translator.js';
import { createTestCa } from '../helpers/test-ca.js';

const require = createRequire(import.meta.url);
const SERVER_ID = 'spiffe://agentmesh.local/agent/translator-1';

function unary<T>(
  start: (callback: (error: grpc.ServiceError | null, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    start((error, value) => (error ? reject(error) : resolve(value as T))),
  );
}

describe('a mesh server over mTLS', () => {
  let serverIdentity: MeshIdentity;
  let clientIdentity: MeshIdentity;
  let running: RunningServer;
  let credentials: grpc.ChannelCredentials;
  const clients: grpc.Client[] = [];
  const translatorProto = loadProtos<TranslatorProtos>(
    ['translator.proto'],
    [new URL('../fixtures/proto', import.meta.url).pathname],
  );

  beforeAll(async () => {
    const testCa = await createTestCa();
    serverIdentity = await testCa.identity('translator-1');
    clientIdentity = await testCa.identity('client');
    const agentService = createAgentService({
      identity: serverIdentity,
      logger: silentLogger(),
      methods: {
        echo: async (request, call) => ({
          payload: Buffer.concat([Buffer.from(`${call.caller.uri}:`), request.payload]),
          contentType: request.contentType,
        }),
        refuse: async () => {
          throw new MeshError(Code.FAILED_PRECONDITION, 'not now: try again after the index is built');
        },
        crash: async () => {
          throw new Error('secret internal detail');
        },
      },
    });
    running = await startServer({
      identity: serverIdentity,
      services: [
        agentService,
        {
          name: 'demo.v1.Translator',
          definition: translatorProto.protos.demo.v1.Translator.service,
          implementation: {
            Translate: (
              call: grpc.ServerUnaryCall<{ text: string; targetLanguage: string }, unknown>,
              callback: grpc.sendUnaryData<unknown>,
            ) => callback(null, { text: `[${call.request.targetLanguage}] ${call.request.text}` }),
          },
        },
      ],
      reflection: [loadMeshProtos().packageDefinition, translatorProto.packageDefinition],
    });
    credentials = createChannelCredentials(clientIdentity, SERVER_ID);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await running?.shutdown(0);
  });

  function agent(): AgentClient {
    const client = new (loadMeshProtos().protos.agentmesh.v1.Agent)(
      running.address,
      credentials,
      MESH_CHANNEL_OPTIONS,
    );
    clients.push(client);
    return client;
  }

  it('binds loopback on a free port', () => {
    expect(running.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(running.port).toBeGreaterThan(0);
  });

  it("serves a user's own typed service through the generated client", async () => {
    const client: TranslatorClient = new translatorProto.protos.demo.v1.Translator(
      running.address,
      credentials,
      MESH_CHANNEL_OPTIONS,
    );
    clients.push(client);
    const reply = await unary<{ text: string }>((done) =>
      client.Translate({ text: 'hello', targetLanguage: 'fr' }, done),
    );
    expect(reply.text).toBe('[fr] hello');
  });

  it('answers grpc.health.v1 for the server and each service', async () => {
    const health = loadProtos<{ grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }>(
      [require('grpc-health-check').protoPath as string],
      [],
    );
    const client = new health.protos.grpc.health.v1.Health(
      running.address,
      credentials,
      MESH_CHANNEL_OPTIONS,
    );
    clients.push(client);
    for (const service of ['', 'agentmesh.v1.Agent', 'demo.v1.Translator']) {
      const status = await unary<{ status: string }>((done) => client.Check({ service }, done));
      expect(status.status, service).toBe('SERVING');
    }
    await expect(unary((done) => client.Check({ service: 'no.such.Service' }, done))).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });

  it('lists its services through server reflection', async () => {
    const reflectionProto = protoLoader.loadSync(
      require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'),
      { keepCase: true },
    );
    const Reflection = (
      grpc.loadPackageDefinition(reflectionProto) as unknown as {
        grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
      }
    ).grpc.reflection.v1.ServerReflection;
    const client = new Reflection(running.address, credentials, MESH_CHANNEL_OPTIONS);
    clients.push(client);
    const names = await new Promise<string[]>((resolve, reject) => {
      const stream = client.ServerReflectionInfo() as grpc.ClientDuplexStream<
        object,
        { list_services_response?: { service: Array<{ name: string }> } }
      >;
      stream.on('data', (response: { list_services_response?: { service: Array<{ name: string }> } }) => {
        resolve(response.list_services_response?.service.map((service) => service.name) ?? []);
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ list_services: '' });
    });
    expect(names).toEqual(
      expect.arrayContaining(['agentmesh.v1.Agent', 'agentmesh.v1.ControlPlane', 'demo.v1.Translator']),
    );
  });

  describe('the generic Agent service', () => {
    const call = (client: AgentClient, method: string, payload = Buffer.from('hi')) =>
      unary<{ payload: Buffer }>((done) =>
        client.Invoke({ method, payload, contentType: 'text/plain' }, done),
      );

    it('runs the handler with the caller’s verified identity', async () => {
      const reply = await call(agent(), 'echo');
      expect(reply.payload.toString()).toBe('spiffe://agentmesh.local/agent/client:hi');
    });

    it('answers an unknown method with UNIMPLEMENTED and the methods it has', async () => {
      await expect(call(agent(), 'nope')).rejects.toMatchObject({
        code: grpc.status.UNIMPLEMENTED,
        details: 'unknown method "nope"; this agent serves: crash, echo, refuse',
      });
    });

    it('answers a malformed method name with INVALID_ARGUMENT', async () => {
      await expect(call(agent(), 'bad name!')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    });

    it('passes a handler’s MeshError through with its code and message', async () => {
      await expect(call(agent(), 'refuse')).rejects.toMatchObject({
        code: grpc.status.FAILED_PRECONDITION,
        details: 'not now: try again after the index is built',
      });
    });

    it('hides an unexpected error behind UNKNOWN', async () => {
      await expect(call(agent(), 'crash')).rejects.toMatchObject({
        code: grpc.status.UNKNOWN,
        details: 'internal error (logged by the server)',
      });
    });

    it('refuses an oversized message with RESOURCE_EXHAUSTED and keeps serving', async () => {
      const client = agent();
      await expect(call(client, 'echo', Buffer.alloc(5 * 1024 * 1024))).rejects.toMatchObject({
        code: grpc.status.RESOURCE_EXHAUSTED,
      });
      expect((await call(client, 'echo')).payload.toString()).toMatch(/:hi$/);
    });

    it('answers the streamed call with UNIMPLEMENTED until a stream handler exists', async () => {
      const stream = agent().InvokeStream({ method: 'echo' });
      const error = await new Promise<grpc.ServiceError>((resolve) => {
        stream.on('error', resolve);
        stream.on('data', () => undefined);
      });
      expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
    });
  });
});
