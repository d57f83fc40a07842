import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';
import { Code, MeshError, truncateInput } from './errors.js';

/**
 * What travels with a call from agent to agent, in gRPC metadata, so typed services get it too. It is never used to
 * decide identity or permission (the verified peer certificate does that); the caller chain only limits loops and
 * explains them.
 */
export interface CallContext {
  /** W3C trace context. */
  traceparent?: string;
  tracestate?: string;
  conversationId?: string;
  tenant?: string;
  /**
   * Priority class for callees that queue calls (`interactive`, `default` or `batch`); calls made while handling
   * a call keep its class.
   */
  priority?: string;
  /** SPIFFE IDs the call passed through, the originating caller first. */
  chain: string[];
  /** Absolute deadline (ms since the epoch) that outbound calls made for this call must not outlive. */
  deadline?: number;
}

/** Default most agents a call may pass through before it is refused as a loop. */
export const DEFAULT_HOP_LIMIT = 10;

/** Metadata keys. */
export const CONTEXT_KEYS = {
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  conversationId: 'x-agentmesh-conversation',
  tenant: 'x-agentmesh-tenant',
  chain: 'x-agentmesh-chain',
  priority: 'x-agentmesh-priority',
  /** The caller's deadline in ms since the epoch (see {@link deadlineFromMetadata}). */
  deadline: 'x-agentmesh-deadline',
} as const;

/**
 * The absolute deadline a caller sent, when it sent a valid one. A callee takes the earlier of it and gRPC's
 * relative timeout: the relative one starts when the request is read, which may be long after it was sent (a callee
 * stopped and resumed reads requests that waited in its socket). The two clocks may differ by the hosts' skew; a
 * callee whose clock runs ahead drops calls that early, which NTP keeps to milliseconds.
 */
export function deadlineFromMetadata(value: string | undefined): number | undefined {
  if (value === undefined || value.length === 0 || value.length > 16) return undefined;
  // Digits only (read on every call; a character loop costs less than a regular expression here).
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 48 || code > 57) return undefined;
  }
  return Number(value);
}

const storage = new AsyncLocalStorage<CallContext>();

/** The context of the call being handled, inside a handler (and whatever it awaits); undefined elsewhere. */
export function currentContext(): CallContext | undefined {
  return storage.getStore();
}

/** Runs `work` (with `args`, if any) with `context` as the current call context. */
export function runWithContext<T, A extends unknown[] = []>(
  context: CallContext,
  work: (...args: A) => T,
  ...args: A
): T {
  return storage.run(context, work, ...args);
}

/** A new W3C traceparent: version 00, random trace and span ids, sampled. */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/**
 * Random bytes as hex, from a pool refilled 4 KiB at a time: a trace or span id on every call would otherwise
 * cost a call into the system's random source each time (as `crypto.randomUUID` also pools).
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return pool.toString('hex', poolOffset - bytes, poolOffset);
}

/** The same trace with a new span id (a child call). */
export function childTraceparent(parent: string | undefined): string {
  const match = parent && /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent);
  if (!match) return newTraceparent();
  return `00-${match[1]}-${randomHex(8)}-${match[2]}`;
}

/** Reads the propagated context from incoming metadata (a plain record of header values). */
export function contextFromMetadata(get: (key: string) => string | undefined): CallContext {
  // Entries before the verified caller are its claim: only what could be a SPIFFE ID (at most 2048 characters) is kept.
  const sent = get(CONTEXT_KEYS.chain);
  const chain = sent
    ? sent.split(',').filter((entry) => entry.startsWith('spiffe://') && entry.length <= 2048)
    : [];
  const context: CallContext = { chain };
  const traceparent = get(CONTEXT_KEYS.traceparent);
  if (traceparent) context.traceparent = traceparent;
  const tracestate = get(CONTEXT_KEYS.tracestate);
  if (tracestate) context.tracestate = tracestate;
  const conversationId = get(CONTEXT_KEYS.conversationId);
  if (conversationId) context.conversationId = conversationId;
  const tenant = get(CONTEXT_KEYS.tenant);
  if (tenant) context.tenant = tenant;
  const priority = get(CONTEXT_KEYS.priority);
  if (priority) context.priority = priority.slice(0, 32);
  return context;
}

/**
 * Refuses a chain that passes through more than `hopLimit` agents: a call loop (or a forged chain).
 * @throws MeshError FAILED_PRECONDITION naming the chain.
 */
export function checkHopLimit(chain: readonly string[], hopLimit = DEFAULT_HOP_LIMIT): void {
  if (chain.length > hopLimit) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `call loop: the hop limit of ${hopLimit} was reached by ${describeChain(chain)}`,
    );
  }
}

/** A chain for a message: its first three and last two agents when it is long (a forged one may hold thousands). */
function describeChain(chain: readonly string[]): string {
  const shown = (entries: readonly string[]) => entries.map((entry) => truncateInput(entry)).join(' -> ');
  if (chain.length <= 6) return shown(chain);
  return `${shown(chain.slice(0, 3))} -> … ${chain.length - 5} more … -> ${shown(chain.slice(-2))}`;
}

/**
 * The context an outbound call or event from `self` carries: the parent's trace continued with a new span (or a
 * new trace), its tracestate, conversation and tenant, and the chain with `self` appended.
 * @throws MeshError FAILED_PRECONDITION when the chain would exceed the hop limit (a loop), naming the chain.
 */
export function childContext(
  self: string,
  parent: CallContext,
  hopLimit = DEFAULT_HOP_LIMIT,
): CallContext & { traceparent: string } {
  const chain = [...parent.chain, self];
  checkHopLimit(chain, hopLimit);
  const context: CallContext & { traceparent: string } = {
    chain,
    traceparent: childTraceparent(parent.traceparent),
  };
  if (parent.tracestate) context.tracestate = parent.tracestate;
  if (parent.conversationId) context.conversationId = parent.conversationId;
  if (parent.tenant) context.tenant = parent.tenant;
  if (parent.priority) context.priority = parent.priority;
  return context;
}

/**
 * The metadata for an outbound call made by `self`, carrying the current context (or starting a new trace), with
 * `self` appended to the chain.
 * @throws MeshError FAILED_PRECONDITION when the chain would exceed the hop limit (a call loop), naming the chain.
 */
export function outboundContext(
  self: string,
  parent: CallContext | undefined,
  hopLimit = DEFAULT_HOP_LIMIT,
): Record<string, string> {
  // A call that starts a chain and carries nothing else sends no metadata at all: the callee knows its caller
  // from the verified certificate, so the chain starts there.
  if (
    !parent ||
    (parent.chain.length === 0 &&
      !parent.traceparent &&
      !parent.conversationId &&
      !parent.tenant &&
      !parent.priority)
  ) {
    return {};
  }
  // Calls inside a handler continue the caller's trace (a new span), or start one for the chain.
  const child = childContext(self, parent, hopLimit);
  const headers: Record<string, string> = {
    [CONTEXT_KEYS.chain]: child.chain.join(','),
    [CONTEXT_KEYS.traceparent]: child.traceparent,
  };
  if (child.tracestate) headers[CONTEXT_KEYS.tracestate] = child.tracestate;
  if (child.conversationId) headers[CONTEXT_KEYS.conversationId] = child.conversationId;
  if (child.tenant) headers[CONTEXT_KEYS.tenant] = child.tenant;
  if (child.priority) headers[CONTEXT_KEYS.priority] = child.priority;
  return headers;
}
