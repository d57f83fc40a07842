/**
 * The data-plane baseline a user would otherwise pick: a plain grpc-js server of the `agentmesh.v1.Agent` service
 * whose `Invoke` answers with the request (the same handler as the mesh agent's `echo`), over `createSsl` mutual TLS
 * with the mesh's certificates, or over plaintext (the ceiling). No agent-mesh code is on its path. grpc-js's
 * defaults, as a user's own server has them; `mtls-lean` is the mTLS server with the mesh's server options
 * (`MESH_SERVER_OPTIONS`: channelz off), to tell what those options are worth apart from the mesh's own code.
 * Prints `ready <address>`; on SIGUSR2 prints `cpu <µs>`, the process's CPU time so far (user and system).
 *
 * Usage: plain-server.ts <certs dir> <identity name> <mtls | mtls-lean | plaintext>
 */
import * as grpc from '@grpc/grpc-js';
import { loadIdentity } from '../src/identity/certs-dir.js';
import { MESH_SERVER_OPTIONS } from '../src/transport/credentials.js';
import { loadMeshProtos } from '../src/transport/protos.js';

const [certsDir, name, mode] = process.argv.slice(2);
const material = await loadIdentity(certsDir!, name!);
const { protos } = loadMeshProtos();
const server = new grpc.Server(mode === 'mtls-lean' ? MESH_SERVER_OPTIONS : {});
server.addService(protos.agentmesh.v1.Agent.service, {
  Invoke: (
    call: grpc.ServerUnaryCall<{ payload: Buffer; contentType: string }, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) => callback(null, { payload: call.request.payload, contentType: call.request.contentType }),
});
const credentials =
  mode === 'plaintext'
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(
        Buffer.from(material.trustBundlePem),
        [
          {
            private_key: Buffer.from(material.privateKeyPem),
            cert_chain: Buffer.from(material.certificatePem),
          },
        ],
        true,
      );
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
);
console.log(`ready 127.0.0.1:${port}`);
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
