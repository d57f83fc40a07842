import http2, { constants } from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppHttp2, MAX_APP_ANSWER_BYTES, timeoutHeader } from '../../src/sidecar/app-http2.js';
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
      // A grpc-js app answers an error with its headers and status at once (trailers-only): not "heard from" for
      // grpc-js's client either.
      expect(outcome.ok || outcome.heardFromServer).toBe(false);
    });

    it('ends DEADLINE_EXCEEDED at the deadline and cancels the stream the app is still holding', async () => {
      let cancelled: Promise<void> | undefined;
      app.behave((call) => {
        cancelled = new Promise((resolve) => call.on('cancelled', () => resolve()));
      });
      const outcome = await client.unary(PATH, Buffer.alloc(1), {}, Date.now() + 200);
      expect(statusOf(outcome)).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
      // When the call had reached the app (not a given on a busy machine), the app saw it cancelled.
      if (cancelled) await cancelled;
      // A deadline already past is refused before anything is sent.
      expect(statusOf(await client.unary(PATH, Buffer.alloc(1), {}, Date.now() - 1))).toMatchObject({
        code: grpc.status.DEADLINE_EXCEEDED,
      });
      // One later than Node's timers take (2^31 - 1 ms, about 25 days) is no timer, and no failure.
      app.behave((call, callback) => callback(null, call.request));
      const far = await client.unary(PATH, Buffer.from('far'), {}, Date.now() + 30 * 86_400_000);
      expect(far).toEqual({ ok: true, value: Buffer.from('far') });
    });

    it('sends grpc-timeout in the finest unit that fits in 8 digits', () => {
      expect(timeoutHeader(0.2)).toBe('1m');
      expect(timeoutHeader(99_999_999)).toBe('99999999m');
      expect(timeoutHeader(100_000_000)).toBe('100000S');
      expect(timeoutHeader(1e14)).toBe('27777778H');
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
      'an HTTP status other than 200 with a grpc-status (the grpc-status wins)',
      (s) =>
        s.respond({ ':status': 429, 'grpc-status': '8', 'grpc-message': 'slow%20down' }, { endStream: true }),
      grpc.status.RESOURCE_EXHAUSTED,
    ],
    [
      'a grpc-status in headers that do not end the stream, then no trailers',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' });
        s.end(framed(Buffer.from('x')));
      },
      grpc.status.INTERNAL,
    ],
    [
      'a second message',
      (s) => answer(s, Buffer.concat([framed(Buffer.from('one')), framed(Buffer.from('two'))]), '0'),
      grpc.status.UNIMPLEMENTED,
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

describe("the sidecar's unary calls to its app, on a session the app ends", () => {
  it('makes a call the app refused with its GOAWAY once more on a new session, as grpc-js does', async () => {
    const temp = await makeTempDir();
    const socket = join(temp.dir, 'goaway.sock');
    const sessions = new Set<http2.Http2Session>();
    let goneAway = false;
    // The app tells the client to go away when the third stream (id 5) opens: streams after id 3 are refused.
    const server = await startRawApp(socket, (stream) => answer(stream, framed(Buffer.from('fine')), '0'));
    server.on('stream', (stream) => {
      sessions.add(stream.session!);
      if (stream.id === 5 && !goneAway) {
        goneAway = true;
        stream.session!.goaway(constants.NGHTTP2_NO_ERROR, 3);
      }
    });
    const client = new AppHttp2(`unix:${socket}`);
    try {
      const outcomes = [];
      for (let i = 0; i < 4; i += 1) outcomes.push(await client.unary(PATH, Buffer.alloc(1), {}, SOON()));
      expect(outcomes.map(statusOf)).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(goneAway).toBe(true);
      expect(sessions.size).toBe(2);
    } finally {
      client.close();
      // A Node server that sent GOAWAY reads no more from that connection, so it never sees the client close it.
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
      await temp.remove();
    }
  });
});
