import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import type { EndpointCache, TargetQuery } from './endpoint-cache.js';

/**
 * Typed clients routed by the mesh: a grpc-js resolver for `agentmesh:///<binding>` targets, whose addresses are
 * the healthy agents of a query in an endpoint cache, kept current as the cache changes. The user builds the typed
 * client that `proto-loader-gen-types` made for their own service, with the target and credentials from
 * {@link meshChannel}, and keeps the gRPC API they know; grpc-js balances round-robin over the instances.
 */
const SCHEME = 'agentmesh';
const bindings = new Map<string, { cache: EndpointCache; query: TargetQuery }>();
let registered = false;

class MeshResolver implements grpc.experimental.Resolver {
  private readonly binding: { cache: EndpointCache; query: TargetQuery } | undefined;
  private readonly stop: (() => void) | undefined;

  constructor(
    target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    this.binding = bindings.get(target.path.replace(/^\//, ''));
    this.stop = this.binding?.cache.onChange(() => this.updateResolution());
  }

  updateResolution(): void {
    queueMicrotask(() => {
      if (!this.binding) {
        this.listener(
          {
            ok: false,
            error: {
              code: grpc.status.UNAVAILABLE,
              details: 'unknown agentmesh target: create it with meshChannel()',
              metadata: new grpc.Metadata(),
            },
          },
          {},
          null,
          '',
        );
        return;
      }
      const endpoints = this.binding.cache.select(this.binding.query).map((agent) => {
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
      const serviceConfig = { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] };
      this.listener({ ok: true, value: endpoints }, {}, { ok: true, value: serviceConfig }, '');
    });
  }

  destroy(): void {
    this.stop?.();
  }

  static getDefaultAuthority(): string {
    return 'agent-mesh';
  }
}

/**
 * A target and credentials for a typed client whose calls go to the healthy agents matching `query`: each
 * connection checks that the server is one of those agents (by its registered SPIFFE ID).
 *
 * ```ts
 * const { target, credentials, options } = meshChannel(identity, cache, { type: 'translator' });
 * const client = new protos.demo.v1.Translator(target, credentials, options);
 * ```
 */
export function meshChannel(
  identity: MeshIdentity,
  cache: EndpointCache,
  query: TargetQuery,
): { target: string; credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (!registered) {
    grpc.experimental.registerResolver(
      SCHEME,
      MeshResolver as unknown as Parameters<typeof grpc.experimental.registerResolver>[1],
    );
    registered = true;
  }
  const id = randomBytes(8).toString('hex');
  bindings.set(id, { cache, query });
  const credentials = createChannelCredentials(identity, (peer) =>
    cache.select(query).some((agent) => agent.spiffeId === peer.uri),
  );
  return { target: `${SCHEME}:///${id}`, credentials, options: MESH_CHANNEL_OPTIONS };
}
