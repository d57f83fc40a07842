import { randomUUID } from 'node:crypto';
import type { CallContext } from '../core/call-context.js';

/**
 * The inbound calls a sidecar is forwarding to its app, each under an opaque token the app is given with the call
 * (`x-agentmesh-call-token`). An outbound call that brings a token back continues that call (its trace,
 * conversation, tenant, priority, caller chain and deadline) from what the sidecar itself read off the verified
 * inbound call, never from anything the app claims; a token is random and valid only while its call is in flight.
 * The set holds one entry per call in flight, so the agent's own admission bounds it.
 */
export class ForwardedCalls {
  private readonly calls = new Map<string, CallContext>();

  /** Records a call being forwarded, with the context read from it; returns its token. */
  open(context: CallContext): string {
    const token = randomUUID();
    this.calls.set(token, context);
    return token;
  }

  /** Forgets the call of `token` once the app has answered it (or it ended otherwise). */
  close(token: string): void {
    this.calls.delete(token);
  }

  /** The context of the call in flight under `token`; undefined for an unknown or finished one. */
  get(token: string): CallContext | undefined {
    return this.calls.get(token);
  }

  /** Calls in flight. */
  get size(): number {
    return this.calls.size;
  }
}
