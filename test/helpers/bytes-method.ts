import type * as grpc from '@grpc/grpc-js';

const asIs = (bytes: Buffer): Buffer => bytes;

/**
 * `agentmesh.v1.Agent/<name>` with its messages as bytes both ways (identity serializers): for servers and clients
 * that pass messages on, or check them, byte for byte.
 */
export function bytesMethod(name: string, responseStream = false): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/agentmesh.v1.Agent/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: asIs,
    requestDeserialize: asIs,
    responseSerialize: asIs,
    responseDeserialize: asIs,
  };
}
