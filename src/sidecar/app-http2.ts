import http2, { constants } from 'node:http2';
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { unaryFailure, type UnaryOutcome } from '../transport/unary-call.js';
import { localAddress } from './local-address.js';

/** Most bytes of one answer from the app: grpc-js's default receive limit, which the app's other calls keep. */
export const MAX_APP_ANSWER_BYTES = 4 * 1024 * 1024;

/** gRPC's length prefix: a compressed flag and a 32-bit big-endian length. */
const PREFIX = 5;
/** The longest delay Node's timers take. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The sidecar's unary calls to its app, as gRPC over HTTP/2 on one `node:http2` session of its own (see
 * PROTOCOL-HTTP2 in the gRPC repository): a request is its headers (the path, `application/grpc`, `te: trailers`,
 * `grpc-timeout` from the deadline, the metadata given) and one length-prefixed message; the answer is the app's
 * headers, one message and the status in its trailers (or headers and status at once: trailers-only).
 *
 * Why not grpc-js's client, which every other call to the app uses: on this hop, the one every inbound call takes,
 * grpc-js's client stack (channel, subchannel, call layers, metadata objects) was most of what the sidecar cost beyond
 * its server, and the bytes need no gRPC-level work in between. Against a bare grpc-js forwarder the sidecar now
 * reaches more than it did with it (docs/benchmarks.md).
 *
 * Outcomes are grpc-js's, as {@link unaryCall} gives them: the app's status and message (`grpc-status` wins over
 * the HTTP status when both are there); UNAVAILABLE when the app cannot be reached or the connection drops before
 * the status; DEADLINE_EXCEEDED at the deadline (the stream is then cancelled); RESOURCE_EXHAUSTED for an answer
 * over {@link MAX_APP_ANSWER_BYTES} (read no further); UNIMPLEMENTED for a second message (read no further) or an
 * OK status without a message; INTERNAL for a compressed or truncated answer, or a stream that ends without a
 * status; a non-200 HTTP status without `grpc-status` mapped as gRPC maps it. A call the app never saw (its stream
 * refused, as after the app's GOAWAY, or the session out of stream ids) is made once more, as grpc-js does: on a new
 * session when the old one takes no more streams. One difference: a session the app ends with an error (GOAWAY with a code, a reset connection)
 * fails the calls on it UNAVAILABLE, whatever the code.
 */
export class AppHttp2 {
  /** The session new calls go on. */
  private session: http2.ClientHttp2Session | undefined;
  /**
   * Every session not yet closed, with its socket and its streams open: one no longer used is destroyed, socket and
   * all, with its last stream.
   */
  private readonly sessions = new Map<http2.ClientHttp2Session, { socket?: Socket; streams: number }>();
  private closed = false;
  private readonly authority: string;
  /** Opens a connection to the app (the address read once, here). */
  private readonly dial: () => Socket;

  /**
   * `address`: the app's `unix:/abs/path`, or its loopback `host:port`.
   * @throws MeshError INVALID_ARGUMENT for any other address (see {@link localAddress}).
   */
  constructor(private readonly address: string) {
    const target = localAddress(address, 'app address');
    this.authority = target.kind === 'unix' ? 'localhost' : address;
    if (target.kind === 'unix') {
      this.dial = () => connect(target.path);
    } else {
      const url = new URL(`http://${address}`);
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      this.dial = () => connect(Number(url.port), host);
    }
  }

  /** Calls `path` with `request` (the message's bytes), `metadata` as headers, within `deadline` (ms since the epoch). */
  unary(
    path: string,
    request: Buffer,
    metadata: Readonly<Record<string, string>>,
    deadline: number,
  ): Promise<UnaryOutcome<Buffer>> {
    return new Promise((resolve) => this.attempt(path, request, metadata, deadline, true, resolve));
  }

  private attempt(
    path: string,
    request: Buffer,
    metadata: Readonly<Record<string, string>>,
    deadline: number,
    mayRetry: boolean,
    resolve: (outcome: UnaryOutcome<Buffer>) => void,
  ): void {
    const left = deadline - Date.now();
    if (left <= 0) return resolve(failed(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded', false));
    const headers: http2.OutgoingHttpHeaders = {
      ...metadata,
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_SCHEME]: 'http',
      [constants.HTTP2_HEADER_AUTHORITY]: this.authority,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      [constants.HTTP2_HEADER_TE]: 'trailers',
    };
    if (Number.isFinite(left)) headers['grpc-timeout'] = timeoutHeader(left);
    let session: http2.ClientHttp2Session;
    let stream: http2.ClientHttp2Stream;
    try {
      session = this.connection();
      stream = session.request(headers);
      this.sessions.get(session)!.streams += 1;
    } catch (error) {
      const reason = (error as Error).message;
      return resolve(failed(grpc.status.UNAVAILABLE, `the connection to the app failed: ${reason}`, false));
    }
    const chunks: Buffer[] = [];
    let received = 0;
    /** Bytes of the answer's one message with its prefix, once the prefix is in. */
    let expected: number | undefined;
    let heard = false;
    let status: { code: grpc.status; details: string } | undefined;
    let transportError: Error | undefined;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: UnaryOutcome<Buffer>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const abort = (code: grpc.status, details: string) => {
      finish(failed(code, details, heard));
      stream.close(constants.NGHTTP2_CANCEL);
    };
    // Node's timers take at most 2^31 - 1 ms; a later deadline still travels in grpc-timeout, for the app to keep.
    if (left <= MAX_TIMER_MS) {
      timer = setTimeout(() => abort(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), left);
    }
    stream.on('response', (answer, flags) => {
      // Headers that end the stream are the whole answer: trailers-only, its status in them.
      const only = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (!only) heard = true;
      if (answer['grpc-status'] !== undefined && only) status = statusOf(answer);
      const httpStatus = Number(answer[constants.HTTP2_HEADER_STATUS]);
      if (httpStatus !== 200 && !status) {
        abort(codeOfHttpStatus(httpStatus), `Received HTTP status code ${httpStatus}`);
      }
    });
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      if (expected !== undefined && received > expected) {
        return abort(grpc.status.UNIMPLEMENTED, 'Too many responses received');
      }
      chunks.push(chunk);
      if (expected !== undefined || received < PREFIX) return;
      // The length prefix is complete: an answer over the limit is refused before it is read in.
      const length = (chunks.length === 1 ? chunk : Buffer.concat(chunks)).readUInt32BE(1);
      if (length > MAX_APP_ANSWER_BYTES) {
        return abort(
          grpc.status.RESOURCE_EXHAUSTED,
          `Received message larger than max (${length} vs ${MAX_APP_ANSWER_BYTES})`,
        );
      }
      expected = PREFIX + length;
      if (received > expected) abort(grpc.status.UNIMPLEMENTED, 'Too many responses received');
    });
    stream.on('trailers', (trailers) => (status = statusOf(trailers)));
    stream.on('error', (error) => (transportError = error));
    stream.on('close', () => {
      this.streamEnded(session);
      if (settled) return;
      if (!status) {
        const errorCode = (transportError as NodeJS.ErrnoException | undefined)?.code;
        // Never seen by the app: refused (streams past a GOAWAY's last id are), or no stream id left. Once more.
        const unseen =
          errorCode === 'ERR_HTTP2_OUT_OF_STREAMS' ||
          (!heard && stream.rstCode === constants.NGHTTP2_REFUSED_STREAM);
        if (unseen) {
          // Out of ids, the session takes no more streams; a refusal alone (the app's load) leaves it in use.
          if (errorCode === 'ERR_HTTP2_OUT_OF_STREAMS') this.forget(session);
          if (mayRetry) {
            settled = true;
            clearTimeout(timer);
            return this.attempt(path, request, metadata, deadline, false, resolve);
          }
        }
        // No status: the connection failed or dropped, or the app reset this stream alone (its session lives on).
        const reset = errorCode === 'ERR_HTTP2_STREAM_ERROR';
        if (session.destroyed || session.closed || (transportError && !reset)) {
          const reason = transportError?.message ?? 'the connection closed';
          return finish(
            failed(grpc.status.UNAVAILABLE, `the connection to the app failed: ${reason}`, heard),
          );
        }
        const code = stream.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR;
        return finish(
          failed(codeOfReset(code), `Received RST_STREAM with code ${code} without a status`, heard),
        );
      }
      if (status.code !== grpc.status.OK) return finish(failed(status.code, status.details, heard));
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (body.length < PREFIX) {
        return finish(failed(grpc.status.UNIMPLEMENTED, 'the server answered no message', heard));
      }
      if ((body[0]! & 1) !== 0) {
        return finish(
          failed(
            grpc.status.INTERNAL,
            'the app sent a compressed message, which the sidecar did not ask for',
            heard,
          ),
        );
      }
      if (body.length < expected!) {
        return finish(failed(grpc.status.INTERNAL, 'the app ended its stream inside a message', heard));
      }
      finish({ ok: true, value: body.subarray(PREFIX, expected) });
    });
    const frame = Buffer.allocUnsafe(PREFIX + request.length);
    frame[0] = 0;
    frame.writeUInt32BE(request.length, 1);
    request.copy(frame, PREFIX);
    stream.end(frame);
  }

  /** Closes the sessions; calls in flight end UNAVAILABLE, later ones are refused so. */
  close(): void {
    this.closed = true;
    this.session = undefined;
    for (const session of [...this.sessions.keys()]) this.destroy(session);
  }

  /** The session to the app: the live one, or a new one once it closed, failed or was told to go away. */
  private connection(): http2.ClientHttp2Session {
    if (this.closed) throw new Error(`the sidecar's connection to the app (${this.address}) is closed`);
    const live = this.session;
    if (live && !live.closed && !live.destroyed) return live;
    if (live) this.forget(live);
    const entry: { socket?: Socket; streams: number } = { streams: 0 };
    const session = http2.connect(`http://${this.authority}`, {
      createConnection: () => (entry.socket = this.dial()),
    });
    // Each stream reports the failure to its own call; the next call opens a new session.
    session.on('error', () => undefined);
    session.on('goaway', () => this.forget(session));
    session.on('close', () => this.destroy(session));
    this.sessions.set(session, entry);
    this.session = session;
    return session;
  }

  /** No new call goes on `session` (it is closing, or out of stream ids); it ends with the last call on it. */
  private forget(session: http2.ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
    if (this.sessions.get(session)?.streams === 0) this.destroy(session);
    else if (!session.closed) session.close();
  }

  private streamEnded(session: http2.ClientHttp2Session): void {
    const entry = this.sessions.get(session);
    if (!entry) return;
    entry.streams -= 1;
    if (entry.streams === 0 && this.session !== session) this.destroy(session);
  }

  /**
   * Destroys `session` and its socket. The socket too: a session destroyed after a graceful close (the app's
   * GOAWAY) neither closes its socket nor emits 'close' while the app keeps its end of the connection open.
   */
  private destroy(session: http2.ClientHttp2Session): void {
    const entry = this.sessions.get(session);
    this.sessions.delete(session);
    if (this.session === session) this.session = undefined;
    session.destroy();
    entry?.socket?.destroy();
  }
}

/** `grpc-timeout` for `ms` left: at most 8 digits, in the finest unit that fits. */
export function timeoutHeader(ms: number): string {
  const millis = Math.ceil(ms);
  if (millis < 1e8) return `${millis}m`;
  const seconds = Math.ceil(millis / 1_000);
  return seconds < 1e8 ? `${seconds}S` : `${Math.min(99_999_999, Math.ceil(seconds / 3_600))}H`;
}

/** The status in `headers` (trailers, or the headers of a trailers-only answer). */
function statusOf(headers: http2.IncomingHttpHeaders): { code: grpc.status; details: string } {
  const code = Number(headers['grpc-status']);
  const raw = headers['grpc-message'];
  const details = typeof raw === 'string' ? percentDecoded(raw) : '';
  if (!Number.isInteger(code) || code < 0 || code > 16) {
    return {
      code: grpc.status.UNKNOWN,
      details: `the app sent an invalid grpc-status: ${String(headers['grpc-status'])}`,
    };
  }
  return { code: code as grpc.status, details };
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** gRPC's mapping of an HTTP status that is not 200 (PROTOCOL-HTTP2, "HTTP to gRPC Status Code Mapping"). */
function codeOfHttpStatus(httpStatus: number): grpc.status {
  switch (httpStatus) {
    case 400:
      return grpc.status.INTERNAL;
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return grpc.status.UNAVAILABLE;
    default:
      return grpc.status.UNKNOWN;
  }
}

/** gRPC's mapping of an RST_STREAM error code received before the status. */
function codeOfReset(code: number): grpc.status {
  switch (code) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return grpc.status.UNAVAILABLE;
    case constants.NGHTTP2_CANCEL:
      return grpc.status.CANCELLED;
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return grpc.status.RESOURCE_EXHAUSTED;
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return grpc.status.PERMISSION_DENIED;
    default:
      return grpc.status.INTERNAL;
  }
}

function failed(code: grpc.status, details: string, heardFromServer: boolean): UnaryOutcome<never> {
  return unaryFailure({ code, details, metadata: new grpc.Metadata() }, heardFromServer);
}
