import type { Options } from '@grpc/proto-loader';

/**
 * How every agentmesh `.proto` is loaded at run time. `npm run generate` passes the same settings to
 * `proto-loader-gen-types`, so the generated types describe exactly the objects grpc-js hands to handlers:
 * camelCase fields, int64 as JavaScript numbers (all our int64 values stay below 2^53), enums as their names,
 * defaults for absent fields, and a virtual field naming the member set in each oneof.
 */
export const PROTO_LOAD_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const satisfies Options;
