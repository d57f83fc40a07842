import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from './credentials.js';
import type { MeshIdentity } from './mesh-identity.js';
import { loadProtos } from './protos.js';

const require = createRequire(import.meta.url);

interface HealthProtos {
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
}

let healthClient: grpc.ServiceClientConstructor | undefined;

function healthClientConstructor(): grpc.ServiceClientConstructor {
  if (!healthClient) {
    const protoPath = (require('grpc-health-check') as { protoPath: string }).protoPath;
    healthClient = loadProtos<HealthProtos>([protoPath], []).protos.grpc.health.v1.Health;
  }
  return healthClient;
}

/** What the probe needs to know about a target. */
export interface ProbeTarget {
  id: string;
  endpoint: string;
  spiffeId: string;
}

/**
 * Active `grpc.health.v1` checks over mTLS: the prober proves `identity`, and the target must prove the SPIFFE
 * ID it registered with. One channel per target, reused across checks and replaced when the target's endpoint or
 * identity changes; {@link GrpcHealthProbe.retain} closes the channels of targets that are gone.
 */
export class GrpcHealthProbe {
  private readonly clients = new Map<string, { key: string; client: grpc.Client }>();
  private readonly stopListening: () => void;

  constructor(private readonly identity: MeshIdentity) {
    // Open connections keep the certificate they were opened with: after a renewal, start afresh.
    this.stopListening = identity.onUpdate(() => this.dropChannels());
  }

  /** Resolves true when the target answers SERVING for the whole server before the timeout. */
  check(target: ProbeTarget, timeoutMs: number): Promise<boolean> {
    const client = this.clientFor(target) as grpc.Client & {
      Check(
        request: { service: string },
        options: grpc.CallOptions,
        callback: (error: unknown, response?: { status: string }) => void,
      ): void;
    };
    return new Promise((resolve) => {
      client.Check({ service: '' }, { deadline: Date.now() + timeoutMs }, (error, response) => {
        resolve(!error && response?.status === 'SERVING');
      });
    });
  }

  /** Closes the channels of every target not in `ids`. */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, entry] of this.clients) {
      if (!ids.has(id)) {
        entry.client.close();
        this.clients.delete(id);
      }
    }
  }

  close(): void {
    this.stopListening();
    this.dropChannels();
  }

  /** Closes every channel; later checks open new ones. */
  reset(): void {
    this.dropChannels();
  }

  private dropChannels(): void {
    for (const entry of this.clients.values()) entry.client.close();
    this.clients.clear();
  }

  private clientFor(target: ProbeTarget): grpc.Client {
    const key = `${target.endpoint} ${target.spiffeId}`;
    const existing = this.clients.get(target.id);
    if (existing?.key === key) return existing.client;
    existing?.client.close();
    const Health = healthClientConstructor();
    const client = new Health(
      target.endpoint,
      createChannelCredentials(this.identity, target.spiffeId),
      MESH_CHANNEL_OPTIONS,
    );
    this.clients.set(target.id, { key, client });
    return client;
  }
}
