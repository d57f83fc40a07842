import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, type RunningSidecar } from '../../src/sidecar/sidecar.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import { PROTO_ROOT } from '../../src/transport/protos.js';
import { bytesMethod } from '../helpers/bytes-method.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;
const asIs = (bytes: Buffer) => bytes;
/** More than grpc-js takes by default (4 MiB), on either side of the sidecar. */
const OVERSIZED = 4 * 1024 * 1024 + 1;

/** The mesh's message types, to build requests byte by byte and to read what the app got. */
function meshTypes() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_ROOT}/${target}`);
  root.loadSync('agentmesh/v1/agent.proto', { keepCase: false });
  return {
    InvokeRequest: root.lookupType('agentmesh.v1.InvokeRequest'),
    InvokeResponse: root.lookupType('agentmesh.v1.InvokeResponse'),
    InvokeChunk: root.lookupType('agentmesh.v1.InvokeChunk'),
  };
}

/** Fields no version of `agent.proto` defines (numbers 15 and 16): a newer peer's, which the sidecar cannot know. */
function unknownFields(): Buffer {
  const writer = protobuf.Writer.create();
  writer.uint32((15 << 3) | 0).uint32(4242);
  writer.uint32((16 << 3) | 2).bytes(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  return Buffer.from(writer.finish());
}

/** What the byte-level app saw of one call. */
interface RawCall {
  request: Buffer;
  metadata: grpc.Metadata;
}

/**
 * An app that serves `agentmesh.v1.Agent` on raw bytes: it records each request as it arrived and answers with the
 * bytes `answer` gives (for a stream, the chunks of `chunks`).
 */
async function startRawApp(address: string) {
  const calls: RawCall[] = [];
  let answer: (request: Buffer) => Buffer = () => Buffer.alloc(0);
  let chunks: Buffer[] = [];
  const server = new grpc.Server();
  server.addService(
    { Invoke: bytesMethod('Invoke'), InvokeStream: bytesMethod('InvokeStream', true) },
    {
      Invoke: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        calls.push({ request: call.request, metadata: call.metadata });
        callback(null, answer(call.request));
      },
      InvokeStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        calls.push({ request: call.request, metadata: call.metadata });
        for (const chunk of chunks) call.write(chunk);
        call.end();
      },
    },
  );
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  return {
    address,
    calls,
    answerWith(next: (request: Buffer) => Buffer) {
      answer = next;
    },
    streamWith(next: Buffer[]) {
      chunks = next;
    },
    close: () => server.forceShutdown(),
  };
}

describe('the sidecar forwards messages as bytes', () => {
  const types = meshTypes();
  let mesh: TestMesh;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let app: Awaited<ReturnType<typeof startRawApp>>;
  let sidecar: RunningSidecar;
  let client: grpc.Client;

  beforeAll(async () => {
    temp = await makeTempDir('agent-mesh-forwarding-');
    const socketDir = join(temp.dir, 'sockets');
    await mkdir(socketDir, { mode: 0o700 });
    mesh = await startTestMesh();
    app = await startRawApp(`unix:${socketDir}/app.sock`);
    sidecar = await startSidecar({
      identity: await mesh.identity('bytes-1', ['bytes']),
      controlPlane: mesh.controlPlane.address,
      type: 'bytes',
      app: app.address,
      socketDir,
    });
    // A caller that speaks to the sidecar byte by byte, over mTLS as the agent caller-1.
    client = new grpc.Client(
      sidecar.agent.address,
      createChannelCredentials(await mesh.identity('caller-1'), ID('bytes-1')),
      MESH_CHANNEL_OPTIONS,
    );
  });

  afterAll(async () => {
    client?.close();
    await sidecar?.stop(0);
    app?.close();
    await mesh?.close();
    await temp?.remove();
  });

  /** One unary call of raw `request` bytes; resolves with the raw answer or the status. */
  const invoke = (request: Buffer, metadata = new grpc.Metadata()) =>
    new Promise<{ ok: true; response: Buffer } | { ok: false; code: number; details: string }>((resolve) => {
      client.makeUnaryRequest(
        '/agentmesh.v1.Agent/Invoke',
        asIs,
        asIs,
        request,
        metadata,
        { deadline: Date.now() + 10_000 },
        (error, response) =>
          resolve(
            error
              ? { ok: false, code: error.code, details: error.details }
              : { ok: true, response: response! },
          ),
      );
    });

  /** The bytes of an InvokeRequest, with `extra` (encoded fields) after the known ones. */
  const requestBytes = (fields: Record<string, unknown>, extra: Buffer = Buffer.alloc(0)) =>
    Buffer.concat([
      Buffer.from(types.InvokeRequest.encode(types.InvokeRequest.fromObject(fields)).finish()),
      extra,
    ]);

  it("passes the request's bytes to the app unchanged, fields the sidecar does not know included, and the app's answer back", async () => {
    const sent = requestBytes(
      { method: 'echo', payload: Buffer.from('payload bytes'), contentType: 'text/plain' },
      unknownFields(),
    );
    const answer = Buffer.concat([
      Buffer.from(
        types.InvokeResponse.encode({ payload: Buffer.from('answer'), contentType: 'text/plain' }).finish(),
      ),
      unknownFields(),
    ]);
    app.answerWith(() => answer);
    const before = app.calls.length;
    const result = await invoke(sent);
    expect(result).toEqual({ ok: true, response: answer });
    expect(app.calls).toHaveLength(before + 1);
    const { request, metadata } = app.calls.at(-1)!;
    // The caller's bytes come first, exactly; the sidecar adds one field: the context it verified.
    expect(request.subarray(0, sent.length).equals(sent)).toBe(true);
    const added = types.InvokeRequest.toObject(types.InvokeRequest.decode(request.subarray(sent.length)));
    expect(Object.keys(added)).toEqual(['context']);
    expect(added.context.callerChain).toEqual([ID('caller-1')]);
    expect(metadata.get('x-agentmesh-caller')).toEqual([ID('caller-1')]);
  });

  it("passes a stream's chunks back as the app wrote them", async () => {
    const chunks = ['one', 'two'].map((text) =>
      Buffer.concat([
        Buffer.from(
          types.InvokeChunk.encode({ payload: Buffer.from(text), contentType: 'text/plain' }).finish(),
        ),
        unknownFields(),
      ]),
    );
    app.streamWith(chunks);
    const stream = client.makeServerStreamRequest(
      '/agentmesh.v1.Agent/InvokeStream',
      asIs,
      asIs,
      requestBytes({ method: 'words', payload: Buffer.from('x') }),
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
    );
    const received: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) received.push(chunk);
    expect(received).toEqual(chunks);
  });

  it('replaces a context the caller put in the request with the one it verified', async () => {
    app.answerWith(() => Buffer.alloc(0));
    const forged = { callerChain: [ID('victim')], conversationId: 'forged', tenant: 'forged' };
    const sent = requestBytes({ method: 'echo', context: forged }, requestBytes({ context: forged }));
    const metadata = new grpc.Metadata();
    metadata.set('x-agentmesh-conversation', 'conv-3');
    expect((await invoke(sent, metadata)).ok).toBe(true);
    const seen = types.InvokeRequest.toObject(types.InvokeRequest.decode(app.calls.at(-1)!.request));
    expect(seen.method).toBe('echo');
    expect(seen.context.callerChain).toEqual([ID('caller-1')]);
    expect(seen.context.conversationId).toBe('conv-3');
    expect(seen.context.tenant ?? '').toBe('');
  });

  it('refuses, INVALID_ARGUMENT, a request it cannot read the method of, and the app never sees it', async () => {
    const before = app.calls.length;
    const malformed = [
      Buffer.from([0x0a, 0x05, 0x65]), // the method's length runs past the end
      Buffer.from([0x08, 0x01]), // the method as a number
      Buffer.from([0x0f]), // wire type 7: no such thing
      requestBytes({ method: 'not a method!' }),
      requestBytes({ payload: Buffer.from('no method') }),
    ];
    for (const request of malformed) {
      const result = await invoke(request);
      expect(result).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    }
    expect(((await invoke(malformed[0]!)) as { details: string }).details).toContain(
      'malformed InvokeRequest',
    );
    expect(app.calls).toHaveLength(before);
  });

  it('refuses, RESOURCE_EXHAUSTED, a request over the size limit before the app sees it, and an answer over it', async () => {
    const before = app.calls.length;
    const big = await invoke(requestBytes({ method: 'echo', payload: Buffer.alloc(OVERSIZED) }));
    expect(big).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED });
    expect(app.calls).toHaveLength(before);
    app.answerWith(() =>
      Buffer.from(types.InvokeResponse.encode({ payload: Buffer.alloc(OVERSIZED) }).finish()),
    );
    const answer = await invoke(requestBytes({ method: 'echo' }));
    expect(answer).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED });
    expect(app.calls).toHaveLength(before + 1);
  });
});
