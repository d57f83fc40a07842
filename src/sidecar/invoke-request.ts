import protobuf from 'protobufjs';
import type { CallContext } from '../core/call-context.js';

/**
 * The sidecar's view of an `agentmesh.v1.InvokeRequest` on the wire. The sidecar forwards a request's bytes to its
 * app as they arrived and reads only what it must: the method (field 1), which policies and the route check need,
 * and where the caller's `context` (field 4) lies, which it replaces by the context it read off the verified call.
 * The payload, the content type and any field this version does not know are the app's to decode, and pass through
 * unchanged.
 */
export type ScannedRequest =
  | {
      ok: true;
      /** The method the request names ('' when it names none). */
      method: string;
      /** Byte ranges `[start, end)` of the `context` fields it carries (a caller's claim, replaced on the way). */
      contexts: Array<[number, number]>;
    }
  | { ok: false; error: string };

const METHOD = 1;
const CONTEXT = 4;
const LENGTH_DELIMITED = 2;
/** Most bytes a method name can take: 128 characters (see the proto), none longer than 4 bytes in UTF-8. */
const MAX_METHOD_BYTES = 512;

/**
 * Reads the top level of an `InvokeRequest` without decoding it: the method, and where its `context` fields are.
 * Every other field is only stepped over (its length read, its bytes never copied), so the cost does not grow with
 * the payload beyond its length prefix. As a protobuf parser does, the last `method` wins.
 * @returns ok: false with what is wrong when the bytes are not a protobuf message (a truncated field, an invalid
 * wire type or field number), or the method is not a length-delimited field or longer than any valid name.
 */
export function scanInvokeRequest(bytes: Buffer): ScannedRequest {
  const reader = protobuf.Reader.create(bytes);
  let method = '';
  const contexts: Array<[number, number]> = [];
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 0) return { ok: false, error: `field number 0 at offset ${start}` };
      if (field === METHOD) {
        if (wireType !== LENGTH_DELIMITED) {
          return { ok: false, error: `the method (field 1) has wire type ${wireType}, not a string's` };
        }
        const length = reader.uint32();
        if (length > MAX_METHOD_BYTES) {
          return {
            ok: false,
            error: `the method is ${length} bytes long; a method name has at most 128 characters`,
          };
        }
        const from = reader.pos;
        reader.skip(length);
        method = bytes.toString('utf8', from, reader.pos);
      } else {
        reader.skipType(wireType);
        if (field === CONTEXT) contexts.push([start, reader.pos]);
      }
    }
  } catch (error) {
    // protobufjs throws a RangeError for a field that runs past the end, an Error for an invalid wire type.
    return { ok: false, error: (error as Error).message };
  }
  return { ok: true, method, contexts };
}

/**
 * The request to forward: the caller's bytes with its `context` fields left out and `context` appended as the
 * sidecar read it off the verified call (trace, conversation, tenant, caller chain). Protobuf merges repeated
 * occurrences of a message field, so a caller's own `context` is cut out rather than overridden: its chain would
 * otherwise be prepended to the verified one. Everything else is copied byte for byte.
 */
export function forwardedRequest(
  bytes: Buffer,
  scanned: Extract<ScannedRequest, { ok: true }>,
  context: CallContext,
): Buffer {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const [start, end] of scanned.contexts) {
    if (start > from) parts.push(bytes.subarray(from, start));
    from = end;
  }
  if (from < bytes.length) parts.push(from === 0 ? bytes : bytes.subarray(from));
  parts.push(encodeContextField(context));
  return Buffer.concat(parts);
}

/** `context` (InvokeRequest field 4) holding `context`, as a generated encoder writes it (empty strings left out). */
function encodeContextField(context: CallContext): Uint8Array {
  const writer = protobuf.Writer.create();
  writer.uint32((CONTEXT << 3) | LENGTH_DELIMITED).fork();
  const string = (field: number, value: string | undefined) => {
    if (value) writer.uint32((field << 3) | LENGTH_DELIMITED).string(value);
  };
  string(1, context.traceparent);
  string(2, context.tracestate);
  string(3, context.conversationId);
  string(4, context.tenant);
  for (const entry of context.chain) writer.uint32((5 << 3) | LENGTH_DELIMITED).string(entry);
  writer.ldelim();
  return writer.finish();
}
