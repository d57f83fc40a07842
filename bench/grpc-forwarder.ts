/**
 * A bare grpc-js forwarder on the sidecar scenario's path, the proxy a user could write with grpc-js alone: an mTLS
 * server (the mesh's certificates, the client's verified) whose `agentmesh.v1.Agent/Invoke` passes the request's
 * bytes to the app's plaintext socket over a grpc-js client and the answer's bytes back, both with identity
 * serializers. No policy, no context, no metrics, no agent: what grpc-js's server and client cost on the extra hop.
 * Prints `ready <address>`; `cpu <µs>` on SIGUSR2 comes from cpu-report.ts.
 *
 * Usage: grpc-forwarder.ts <certs dir> <identity name> <app address (unix:/path)>
 */
import * as grpc from '@grpc/grpc-js';
import { loadIdentity } from '../src/identity/certs-dir.js';
import { bytesMethod } from '../test/helpers/bytes-method.js';

const [certsDir, name, appAddress] = process.argv.slice(2);
const material = await loadIdentity(certsDir!, name!);
const invoke = bytesMethod('Invoke');
const app = new grpc.Client(appAddress!, grpc.credentials.createInsecure());
const server = new grpc.Server();
server.addService(
  { Invoke: invoke },
  {
    Invoke: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      app.makeUnaryRequest(
        invoke.path,
        invoke.requestSerialize,
        invoke.responseDeserialize,
        call.request,
        new grpc.Metadata(),
        { deadline: call.getDeadline() },
        callback,
      );
    },
  },
);
const credentials = grpc.ServerCredentials.createSsl(
  Buffer.from(material.trustBundlePem),
  [{ private_key: Buffer.from(material.privateKeyPem), cert_chain: Buffer.from(material.certificatePem) }],
  true,
);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
);
console.log(`ready 127.0.0.1:${port}`);
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
