import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AgentProtos } from '../generated/agent.js';
import type { ProtoGrpcType as ControlPlaneProtos } from '../generated/control_plane.js';
import type { ProtoGrpcType as EventProtos } from '../generated/events.js';
import { PROTO_LOAD_OPTIONS } from './proto-options.js';

/** The mesh's own services and messages, typed from the generated stubs. */
export type MeshProtos = AgentProtos & ControlPlaneProtos;

const MESH_PROTO_FILES = ['agentmesh/v1/control_plane.proto', 'agentmesh/v1/agent.proto'];

/** The `proto/` directory of this package, found from this module whether it runs from source or from `dist/`. */
export const PROTO_ROOT = findProtoRoot();

function findProtoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, MESH_PROTO_FILES[0]!))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('agent-mesh: cannot find its proto/ directory next to the package');
    dir = parent;
  }
}

/**
 * Loads proto files with the options the generated types were made for. Give the `ProtoGrpcType` generated from
 * the same files as `T` (see `npm run generate`) to get typed service constructors and definitions.
 */
export function loadProtos<T>(
  files: string[],
  includeDirs: string[],
): { packageDefinition: protoLoader.PackageDefinition; protos: T } {
  const packageDefinition = protoLoader.loadSync(files, { ...PROTO_LOAD_OPTIONS, includeDirs });
  return { packageDefinition, protos: grpc.loadPackageDefinition(packageDefinition) as unknown as T };
}

let meshProtos: { packageDefinition: protoLoader.PackageDefinition; protos: MeshProtos } | undefined;

/** The mesh's own protos, loaded once per process: they never change at run time. */
export function loadMeshProtos(): { packageDefinition: protoLoader.PackageDefinition; protos: MeshProtos } {
  meshProtos ??= loadProtos<MeshProtos>(MESH_PROTO_FILES, [PROTO_ROOT]);
  return meshProtos;
}

let eventProtos: { packageDefinition: protoLoader.PackageDefinition; protos: EventProtos } | undefined;

/**
 * The sidecar's event services (`agentmesh.v1.Events` and the app's `agentmesh.v1.EventHandler`), loaded once per
 * process. Apart from {@link loadMeshProtos}: an agent does not serve them, so its reflection does not list them.
 */
export function loadEventProtos(): { packageDefinition: protoLoader.PackageDefinition; protos: EventProtos } {
  eventProtos ??= loadProtos<EventProtos>(['agentmesh/v1/events.proto'], [PROTO_ROOT]);
  return eventProtos;
}
