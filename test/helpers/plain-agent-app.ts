import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import type { InvokeRequest__Output } from '../../src/generated/agentmesh/v1/InvokeRequest.js';
import { loadMeshProtos } from '../../src/transport/protos.js';

/** What the app saw of one inbound call. */
export interface SeenCall {
  method: string;
  metadata: Record<string, string>;
  /** The request's `context` field, as the sidecar filled it. */
  context: { conversationId: string; callerChain: string[]; traceparent: string };
  deadline: number;
}

/** A plaintext app behind a sidecar, as an app in another language would be: Agent + grpc.health.v1 on loopback. */
export interface PlainAgentApp {
  address: string;
  health: HealthImplementation;
  calls: SeenCall[];
  /** Chunks the `count` stream has written so far. */
  written(): number;
  /** Lets the `count` stream write its next chunk. */
  release(): void;
  /** Where `call-out` sends its calls: the sidecar's outbound port. */
  setOutbound(address: string): void;
  close(): Promise<void>;
}

/** What `call-out-forged` adds to its outbound call: a caller and a chain the app has no right to claim. */
export const FORGED_HEADERS: Record<string, string> = {
  'x-agentmesh-caller': 'spiffe://agentmesh.local/agent/victim',
  'x-agentmesh-chain': 'spiffe://agentmesh.local/agent/victim',
};

/**
 * Starts the app, on `listen` (`unix:/path` or `host:port`; default a free loopback port): `echo` answers with what
 * it saw (caller, context, deadline) as JSON, `fail` answers INVALID_ARGUMENT, `call-out` calls `whoami` on the
 * agent type named by its payload through the sidecar's outbound port (passing back the call token it received)
 * and returns that answer, `call-out-forged` does the same with {@link FORGED_HEADERS} and the context headers it
 * received added, and the stream `count` writes `n` chunks (its payload), each only once the test calls `release()`.
 */
export async function startPlainAgentApp(listen = '127.0.0.1:0'): Promise<PlainAgentApp> {
  const { protos } = loadMeshProtos();
  const health = new HealthImplementation({ '': 'SERVING' });
  const calls: SeenCall[] = [];
  let written = 0;
  let gate: (() => void) | undefined;
  let released = 0;
  let outbound: AgentClient | undefined;
  const see = (
    call:
      | grpc.ServerUnaryCall<InvokeRequest__Output, unknown>
      | grpc.ServerWritableStream<InvokeRequest__Output, unknown>,
  ) => {
    const deadline = call.getDeadline();
    const seen: SeenCall = {
      method: call.request.method,
      metadata: Object.fromEntries(
        Object.entries(call.metadata.getMap()).map(([key, value]) => [key, value.toString()]),
      ),
      context: {
        conversationId: call.request.context?.conversationId ?? '',
        callerChain: call.request.context?.callerChain ?? [],
        traceparent: call.request.context?.traceparent ?? '',
      },
      deadline: deadline instanceof Date ? deadline.getTime() : deadline,
    };
    calls.push(seen);
    return seen;
  };
  const server = new grpc.Server();
  server.addService(protos.agentmesh.v1.Agent.service, {
    Invoke: (
      call: grpc.ServerUnaryCall<InvokeRequest__Output, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const seen = see(call);
      if (seen.method === 'echo') {
        callback(null, { payload: Buffer.from(JSON.stringify(seen)), contentType: 'application/json' });
      } else if (seen.method === 'fail') {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'the app cannot use this payload' });
      } else if ((seen.method === 'call-out' || seen.method === 'call-out-forged') && outbound) {
        const metadata = new grpc.Metadata();
        metadata.set('x-agentmesh-target-type', call.request.payload.toString());
        metadata.set('x-agentmesh-call-token', seen.metadata['x-agentmesh-call-token'] ?? '');
        if (seen.method === 'call-out-forged') {
          // What an app that copies every header it was given sends, and claims of its own on top.
          for (const [key, value] of Object.entries(seen.metadata)) {
            if (key === 'traceparent' || key === 'tracestate' || key.startsWith('x-agentmesh-'))
              metadata.set(key, value);
          }
          for (const [key, value] of Object.entries(FORGED_HEADERS)) metadata.set(key, value);
          metadata.set('x-agentmesh-target-type', call.request.payload.toString());
        }
        outbound.Invoke(
          { method: 'whoami', payload: Buffer.alloc(0), contentType: 'text/plain' },
          metadata,
          { deadline: Date.now() + 5_000 },
          (error, response) => callback(error, response),
        );
      } else {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `the app has no method "${seen.method}"` });
      }
    },
    InvokeStream: (call: grpc.ServerWritableStream<InvokeRequest__Output, unknown>) => {
      see(call);
      const n = Number(call.request.payload.toString());
      void (async () => {
        for (let i = 1; i <= n; i += 1) {
          if (released < i) await new Promise<void>((resolve) => (gate = resolve));
          if (call.cancelled) return;
          call.write({ payload: Buffer.from(`chunk ${i}`), contentType: 'text/plain' });
          written = i;
        }
        call.end();
      })();
    },
  });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    address: listen.startsWith('unix:') ? listen : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`,
    health,
    calls,
    written: () => written,
    release() {
      released += 1;
      const wake = gate;
      gate = undefined;
      wake?.();
    },
    setOutbound(address) {
      outbound = new protos.agentmesh.v1.Agent(address, grpc.credentials.createInsecure());
    },
    async close() {
      outbound?.close();
      server.forceShutdown();
    },
  };
}
