/**
 * The floor of any sidecar on the sidecar scenario's path: a process between the caller and the app that only
 * terminates the caller's mutual TLS (the mesh's certificates, the client's verified against the mesh's root) and
 * pipes the bytes, both ways, to the app's socket. It reads nothing (no HTTP/2 frame, no gRPC message), so it can
 * check no policy and tell the app no caller: what it costs is the extra process and hop, which a sidecar cannot
 * avoid, plus TLS. Prints `ready <address>`; `cpu <µs>` on SIGUSR2 comes from cpu-report.ts.
 *
 * Usage: tls-pipe.ts <certs dir> <identity name> <app socket path>
 */
import { connect, type AddressInfo } from 'node:net';
import { createServer } from 'node:tls';
import { loadIdentity } from '../src/identity/certs-dir.js';

const [certsDir, name, appSocket] = process.argv.slice(2);
const material = await loadIdentity(certsDir!, name!);
const server = createServer(
  {
    key: material.privateKeyPem,
    cert: material.certificatePem,
    ca: material.trustBundlePem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  },
  (socket) => {
    const app = connect(appSocket!);
    socket.pipe(app).pipe(socket);
    socket.on('error', () => app.destroy());
    app.on('error', () => socket.destroy());
  },
);
server.listen(0, '127.0.0.1', () => {
  console.log(`ready 127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => process.exit(0));
