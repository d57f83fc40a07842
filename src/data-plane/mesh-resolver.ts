import * as grpc from '@grpc/grpc-js';
import { parseLabelSelector } from '../core/label-selector.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { CONTEXT_KEYS, currentContext, outboundContext, type CallContext } from '../core/call-context.js';
import { describeQuery, type EndpointCache, type TargetQuery } from './endpoint-cache.js';

/**
 * Typed clients routed by the mesh: a grpc-js resolver for `agentmesh:///<name>` targets, whose addresses are the
 * healthy agents of a query in an endpoint cache, kept current as the cache changes. The user builds the typed
 * client that `proto-loader-gen-types` made for their own service, with the target, credentials and options from
 * {@link meshChannel}, and keeps the gRPC API they know; grpc-js balances round-robin over the instances, and the
 * calls carry the mesh's call context and deadline like those of a MeshClient.
 */
const SCHEME = 'agentmesh';
/** The channel option that carries a channel's binding to its resolver (so no module-level map outlives it). */
const BINDING_OPTION = 'agentmesh.binding';
let registered = false;

/** What a channel's resolver follows: an endpoint cache and a query. */
class Binding {
  constructor(
    readonly cache: EndpointCache,
    readonly query: TargetQuery,
  ) {}

  /** Channel options are printed by grpc-js tracing: print a description, not the cache. */
  toJSON(): string {
    return `agentmesh binding (${describeQuery(this.query)})`;
  }
}

class MeshResolver implements grpc.experimental.Resolver {
  private readonly binding: Binding | undefined;
  private stop: (() => void) | undefined;

  constructor(
    _target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
    channelOptions: grpc.ChannelOptions,
  ) {
    const binding: unknown = channelOptions[BINDING_OPTION];
    this.binding = binding instanceof Binding ? binding : undefined;
  }

  updateResolution(): void {
    // Subscribed here rather than in the constructor: grpc-js destroys the resolver when the channel goes idle
    // and asks it to resolve again when it wakes.
    if (this.binding && !this.stop) {
      // A load report changes no address: only membership changes resolve again.
      this.stop = this.binding.cache.onChange((change) => {
        if (change !== 'load') this.updateResolution();
      });
    }
    queueMicrotask(() => {
      const endpoints = this.resolve();
      if (!endpoints.ok) {
        this.listener(
          {
            ok: false,
            error: { code: grpc.status.UNAVAILABLE, details: endpoints.error, metadata: new grpc.Metadata() },
          },
          {},
          null,
          '',
        );
        return;
      }
      const serviceConfig = { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] };
      this.listener({ ok: true, value: endpoints.value }, {}, { ok: true, value: serviceConfig }, '');
    });
  }

  destroy(): void {
    this.stop?.();
    this.stop = undefined;
  }

  static getDefaultAuthority(): string {
    return 'agent-mesh';
  }

  /** The endpoints of the binding's agents, or why there are none (never a throw: it would escape grpc-js). */
  private resolve(): { ok: true; value: grpc.experimental.Endpoint[] } | { ok: false; error: string } {
    if (!this.binding) {
      return {
        ok: false,
        error:
          'unknown agentmesh target: build the client with the target, credentials and options of meshChannel()',
      };
    }
    try {
      const value = this.binding.cache.select(this.binding.query).map((agent) => {
        const separator = agent.spec.endpoint.lastIndexOf(':');
        return {
          addresses: [
            {
              host: agent.spec.endpoint.slice(0, separator).replace(/^\[|\]$/g, ''),
              port: Number(agent.spec.endpoint.slice(separator + 1)),
            },
          ],
        };
      });
      return { ok: true, value };
    } catch (error) {
      return {
        ok: false,
        error: `cannot resolve ${describeQuery(this.binding.query)}: ${(error as Error).message}`,
      };
    }
  }
}

/** Options for {@link meshChannel}. */
export interface MeshChannelOptions {
  /** Deadline of a unary or client-streaming call that sets none, in ms (default 10 s, like a MeshClient's). */
  defaultTimeoutMs?: number;
  /** Most agents a chain of calls may pass through (default 10). */
  hopLimit?: number;
}

/**
 * A target, credentials and client options for a typed client whose calls go to the healthy agents matching
 * `query`: each connection checks that the server is one of those agents (by its registered SPIFFE ID), and each
 * call carries the current call context (trace, conversation, tenant, caller chain; refused at the hop limit) and a
 * deadline no later than that of the call being handled.
 *
 * ```ts
 * const { target, credentials, options } = meshChannel(identity, cache, { type: 'translator' });
 * const client = new protos.demo.v1.Translator(target, credentials, options);
 * ```
 * @throws MeshError INVALID_ARGUMENT for an invalid label selector.
 */
export function meshChannel(
  identity: MeshIdentity,
  cache: EndpointCache,
  query: TargetQuery,
  channelOptions: MeshChannelOptions = {},
): { target: string; credentials: grpc.ChannelCredentials; options: grpc.ClientOptions } {
  if (query.labelSelector) {
    const selector = parseLabelSelector(query.labelSelector);
    if (!selector.ok) throw selector.error;
  }
  if (!registered) {
    grpc.experimental.registerResolver(
      SCHEME,
      MeshResolver as unknown as Parameters<typeof grpc.experimental.registerResolver>[1],
    );
    registered = true;
  }
  const credentials = createChannelCredentials(identity, (peer) =>
    cache.select(query).some((agent) => agent.spiffeId === peer.uri),
  );
  return {
    target: `${SCHEME}:///${encodeURIComponent(query.type ?? 'any')}`,
    credentials,
    options: {
      ...MESH_CHANNEL_OPTIONS,
      [BINDING_OPTION]: new Binding(cache, query),
      interceptors: [contextInterceptor(identity.spiffeId.uri, channelOptions)],
    },
  };
}

/**
 * A client interceptor that gives a typed call what a MeshClient gives a generic one: the outbound call context
 * in metadata, and a deadline that is the earliest of the call's own, the handled call's, and (for unary and
 * client-streaming calls) the default timeout. A call past the hop limit fails with FAILED_PRECONDITION.
 */
function contextInterceptor(self: string, options: MeshChannelOptions): grpc.Interceptor {
  return (callOptions, nextCall) => {
    const parent: CallContext | undefined = currentContext();
    const own = callOptions.deadline instanceof Date ? callOptions.deadline.getTime() : callOptions.deadline;
    const streamed = callOptions.method_definition.responseStream;
    const deadline = Math.min(
      own ?? (streamed ? Infinity : Date.now() + (options.defaultTimeoutMs ?? 10_000)),
      parent?.deadline ?? Infinity,
    );
    let headers: Record<string, string>;
    let refusal: Error | undefined;
    try {
      headers = outboundContext(self, parent, options.hopLimit);
    } catch (error) {
      headers = {};
      refusal = error as Error;
    }
    const call: grpc.InterceptingCall = new grpc.InterceptingCall(
      nextCall(Number.isFinite(deadline) ? { ...callOptions, deadline } : callOptions),
      {
        start(metadata, listener, next) {
          for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
          if (Number.isFinite(deadline)) metadata.set(CONTEXT_KEYS.deadline, String(Math.floor(deadline)));
          next(metadata, listener);
          if (refusal) call.cancelWithStatus(grpc.status.FAILED_PRECONDITION, refusal.message);
        },
      },
    );
    return call;
  };
}
