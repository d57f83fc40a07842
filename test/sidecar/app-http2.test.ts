import http2, { constants } from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppHttp2, MAX_APP_ANSWER_BYTES } from '../../src/sidecar/app-http2.js';
import type { UnaryOutcome } from '../../src/transport/unary-call.js';
import { bytesMethod } from '../helpers/bytes-method.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const PATH = '/agentmesh.v1.Agent/Invoke';
const INVOKE = bytesMethod('Invoke');
const SOON = () => Date.now() + 10_000;

/** A grpc-js app on a Unix socket whose Invoke does what `behave` says, given the call. */
async function startGrpcApp(socket: string) {
  type Behaviour = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => void;
  let behave: Behaviour = (call, callback) => callback(null, call.request);
  const server = new grpc.Server();
  const implementation: grpc.UntypedServiceImplementation = {
    Invoke: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      behave(call, callback),
  };
  server.addService({ Invoke: INVOKE }, implementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  return {
    server,
    behave(next: Behaviour) {
      behave = next;
    },
  };
}

/** An HTTP/2 server on a Unix socket that answers every stream as `answer` says: for answers grpc-js never sends. */
async function startRawApp(socket: string, answer: (stream: http2.ServerHttp2Stream) => void) {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => answer(stream));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return server;
}

function framed(message: Buffer, flags = 0): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = flags;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

function statusOf(outcome: UnaryOutcome<Buffer>): { code: grpc.status; details: string } | 'ok' {
  return outcome.ok ? 'ok' : { code: outcome.error.code, details: outcome.error.details };
}

describe("the sidecar's unary calls to its app over node:http2", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    temp = await makeTempDir();
  });
  afterAll(async () => {
    await temp.remove();
  });

  describe('against a grpc-js app', () => {
    let app: Awaited<ReturnType<typeof startGrpcApp>>;
    let client: AppHttp2;
    beforeAll(async () => {
      const socket = join(temp.dir, 'grpc.sock');
      app = await startGrpcApp(socket);
      client = new AppHttp2(`unix:${socket}`);
    });
    afterAll(() => {
      client.close();
      app.server.forceShutdown();
    });

    it('sends the bytes, the metadata and the deadline, and returns the answer as the app sent it', async () => {
      let seen: { metadata: Record<string, unknown>; deadline: grpc.Deadline } | undefined;
      app.behave((call, callback) => {
        seen = { metadata: call.metadata.getMap(), deadline: call.getDeadline() };
        callback(null, Buffer.concat([Buffer.from('echo:'), call.request]));
      });
      const outcome = await client.unary(
        PATH,
        Buffer.from([1, 2, 3]),
        { 'x-agentmesh-caller': 'spiffe://agentmesh.local/agent/a', 'x-agentmesh-call-token': 't-1' },
        SOON(),
      );
      expect(outcome).toEqual({
        ok: true,
        value: Buffer.concat([Buffer.from('echo:'), Buffer.from([1, 2, 3])]),
      });
      expect(seen!.metadata).toMatchObject({
        'x-agentmesh-caller': 'spiffe://agentmesh.local/agent/a',
        'x-agentmesh-call-token': 't-1',
      });
      // The deadline travels as grpc-timeout (relative): the app's own call has one.
      expect(Number.isFinite(Number(seen!.deadline))).toBe(true);
      // An empty request and an empty answer are a message too.
      app.behave((_call, callback) => callback(null, Buffer.alloc(0)));
      expect(await client.unary(PATH, Buffer.alloc(0), {}, Infinity)).toEqual({
        ok: true,
        value: Buffer.alloc(0),
      });
    });

    it("passes the app's status and message back, characters that travel percent-encoded included", async () => {
      app.behave((_call, callback) =>
        callback({ code: grpc.status.FAILED_PRECONDITION, details: 'no stock: 0% of "ünïcode" left\n' }),
      );
      const outcome = await client.unary(PATH, Buffer.alloc(1), {}, SOON());
      expect(statusOf(outcome)).toEqual({
        code: grpc.status.FAILED_PRECONDITION,
        details: 'no stock: 0% of "ünïcode" left\n',
      });
      expect(outcome.ok || outcome.heardFromServer).toBe(true);
    });

    it('ends DEADLINE_EXCEEDED at the deadline and cancels the stream the app is still holding', async () => {
      let cancelled: Promise<void> | undefined;
      app.behave((call) => {
        cancelled = new Promise((resolve) => call.on('cancelled', () => resolve()));
      });
      const outcome = await client.unary(PATH, Buffer.alloc(1), {}, Date.now() + 200);
      expect(statusOf(outcome)).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
      await cancelled;
      // A deadline already past is refused before anything is sent.
      expect(statusOf(await client.unary(PATH, Buffer.alloc(1), {}, Date.now() - 1))).toMatchObject({
        code: grpc.status.DEADLINE_EXCEEDED,
      });
    });

    it('refuses RESOURCE_EXHAUSTED an answer over the limit', async () => {
      app.behave((_call, callback) => callback(null, Buffer.alloc(MAX_APP_ANSWER_BYTES + 1)));
      const outcome = await client.unary(PATH, Buffer.alloc(1), {}, SOON());
      expect(statusOf(outcome)).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
      app.behave((_call, callback) => callback(null, Buffer.alloc(MAX_APP_ANSWER_BYTES)));
      const largest = await client.unary(PATH, Buffer.alloc(1), {}, SOON());
      expect(largest.ok && largest.value.length).toBe(MAX_APP_ANSWER_BYTES);
    });
  });

  it('answers UNAVAILABLE while the app is not there, and reaches it once it is (a new connection)', async () => {
    const socket = join(temp.dir, 'late.sock');
    const client = new AppHttp2(`unix:${socket}`);
    try {
      const before = await client.unary(PATH, Buffer.alloc(1), {}, SOON());
      expect(statusOf(before)).toMatchObject({ code: grpc.status.UNAVAILABLE });
      expect(before.ok || before.heardFromServer).toBe(false);
      const app = await startGrpcApp(socket);
      try {
        expect(await client.unary(PATH, Buffer.from('hi'), {}, SOON())).toEqual({
          ok: true,
          value: Buffer.from('hi'),
        });
        // The app dies with a call in flight: UNAVAILABLE, then the next app on the socket is reached again.
        let held: (() => void) | undefined;
        const reached = new Promise<void>((resolve) => (held = resolve));
        app.behave(() => held!());
        const inFlight = client.unary(PATH, Buffer.alloc(1), {}, SOON());
        await reached;
        app.server.forceShutdown();
        expect(statusOf(await inFlight)).toMatchObject({ code: grpc.status.UNAVAILABLE });
      } finally {
        app.server.forceShutdown();
      }
      const again = await startGrpcApp(socket);
      try {
        expect(await client.unary(PATH, Buffer.from('back'), {}, SOON())).toEqual({
          ok: true,
          value: Buffer.from('back'),
        });
      } finally {
        again.server.forceShutdown();
      }
    } finally {
      client.close();
    }
    expect(statusOf(await client.unary(PATH, Buffer.alloc(1), {}, SOON()))).toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it.each<[string, (stream: http2.ServerHttp2Stream) => void, grpc.status]>([
    [
      'an HTTP status other than 200',
      (s) => s.respond({ ':status': 503 }, { endStream: true }),
      grpc.status.UNAVAILABLE,
    ],
    [
      'a trailers-only error',
      (s) =>
        s.respond({ ':status': 200, 'grpc-status': '5', 'grpc-message': 'no%20such' }, { endStream: true }),
      grpc.status.NOT_FOUND,
    ],
    [
      'an OK status without a message',
      (s) =>
        s.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' },
          { endStream: true },
        ),
      grpc.status.UNIMPLEMENTED,
    ],
    ['an invalid grpc-status', (s) => answer(s, framed(Buffer.from('x')), '42'), grpc.status.UNKNOWN],
    [
      'a compressed message it did not ask for',
      (s) => answer(s, framed(Buffer.from('x'), 1), '0'),
      grpc.status.INTERNAL,
    ],
    [
      'a stream that ends inside a message',
      (s) => answer(s, framed(Buffer.from('abc')).subarray(0, 6), '0'),
      grpc.status.INTERNAL,
    ],
    [
      'a length prefix over the limit',
      (s) => answer(s, lengthOnly(MAX_APP_ANSWER_BYTES + 1), '0'),
      grpc.status.RESOURCE_EXHAUSTED,
    ],
    [
      'a stream refused before the status',
      (s) => s.close(constants.NGHTTP2_REFUSED_STREAM),
      grpc.status.UNAVAILABLE,
    ],
    [
      'a stream reset with an internal error',
      (s) => s.close(constants.NGHTTP2_INTERNAL_ERROR),
      grpc.status.INTERNAL,
    ],
  ])('maps %s to its gRPC status, and keeps serving', async (_name, misbehave, code) => {
    const socket = join(temp.dir, `raw-${code}-${Math.random().toString(16).slice(2)}.sock`);
    let misbehaving = true;
    const server = await startRawApp(socket, (stream) =>
      misbehaving ? misbehave(stream) : answer(stream, framed(Buffer.from('fine')), '0'),
    );
    const client = new AppHttp2(`unix:${socket}`);
    try {
      expect(statusOf(await client.unary(PATH, Buffer.alloc(1), {}, SOON()))).toMatchObject({ code });
      misbehaving = false;
      expect(await client.unary(PATH, Buffer.alloc(1), {}, SOON())).toEqual({
        ok: true,
        value: Buffer.from('fine'),
      });
    } finally {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** Answers `stream` with `body` and the status `code` in the trailers. */
function answer(stream: http2.ServerHttp2Stream, body: Buffer, code: string): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': code }));
  stream.end(body);
}

/** A length prefix announcing `length` bytes, and none of them. */
function lengthOnly(length: number): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(length, 1);
  return prefix;
}
