import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../observability/logger.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import type { EndpointCache, TargetQuery } from './endpoint-cache.js';
import { MeshClient } from './mesh-client.js';
import type { TypedChannel, TypedChannelOptions } from './routed-channel.js';

/** Options for {@link meshChannel}. */
export interface MeshChannelOptions extends TypedChannelOptions {
  /** Most agents a chain of calls may pass through (default 10). */
  hopLimit?: number;
}

/**
 * A target, credentials and client options for a typed client whose calls go to the healthy agents matching
 * `query`, with a mesh client of its own (closed with the typed client): each call carries the current call
 * context and a deadline no later than that of the call being handled, and is balanced, failed over and
 * accounted for by the mesh's attempt loop, as generic calls are. Inside an agent, prefer `agent.mesh.channel()`,
 * which shares the agent's connections, outlier state and retry budget.
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
  options: MeshChannelOptions = {},
): TypedChannel {
  registerScheme();
  const { hopLimit, ...channelOptions } = options;
  const mesh = new MeshClient({
    identity,
    cache,
    logger: silentLogger(),
    ...(hopLimit !== undefined ? { hopLimit } : {}),
  });
  try {
    return mesh.channel(query, channelOptions, () => mesh.close());
  } catch (error) {
    mesh.close();
    throw error;
  }
}

let registered = false;

/**
 * Registers the `agentmesh:` scheme with grpc-js: a client built from a typed channel's target and credentials
 * but without its options (which route its calls) fails every call with a status saying so, rather than with a
 * DNS error about a name that was never a host.
 */
export function registerScheme(): void {
  if (registered) return;
  registered = true;
  class UnboundResolver implements grpc.experimental.Resolver {
    constructor(
      _target: grpc.experimental.GrpcUri,
      private readonly listener: grpc.experimental.ResolverListener,
    ) {}
    updateResolution(): void {
      queueMicrotask(() =>
        this.listener(
          {
            ok: false,
            error: {
              code: grpc.status.UNAVAILABLE,
              details:
                'agentmesh target without its channel: build the client with the options of mesh.channel()',
              metadata: new grpc.Metadata(),
            },
          },
          {},
          null,
          '',
        ),
      );
    }
    destroy(): void {}
    static getDefaultAuthority(): string {
      return 'agent-mesh';
    }
  }
  grpc.experimental.registerResolver(
    'agentmesh',
    UnboundResolver as unknown as Parameters<typeof grpc.experimental.registerResolver>[1],
  );
}
