import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { startAgent } from '../src/agent/agent-runtime.js';
import { createAgentService } from '../src/agent/agent-service.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { startBenchMesh } from './setup.js';
const bench = await startBenchMesh();
await ensureIdentity(bench.certsDir, 'echo-1', { types: ['echo'] });
const callerMaterial = await ensureIdentity(bench.certsDir, 'caller');
let impl: grpc.UntypedServiceImplementation | undefined;
const agent = await startAgent({
  identity: new MeshIdentity(await ensureIdentity(bench.certsDir, 'echo-1', { types: ['echo'] })),
  controlPlane: bench.controlPlane.address,
  type: 'echo',
  methods: { echo: async (request) => request },
  agentService: (options) => { const s = createAgentService(options); impl = s.implementation; return s; },
});
const x = new X509Certificate(callerMaterial.certificatePem);
const peer = { raw: x.raw, fingerprint256: x.fingerprint256, valid_to: x.validTo };
const invoke = impl!.Invoke as (wire: unknown, cb: grpc.sendUnaryData<unknown>) => void;
const request = { method: 'echo', payload: Buffer.alloc(1024, 7), contentType: 'application/octet-stream' };
const withHeaders = process.env.H !== '0';
function one(): Promise<void> {
  return new Promise((resolve, reject) => {
    const wire = new EventEmitter() as EventEmitter & Record<string, unknown>;
    const md = new grpc.Metadata();
    if (withHeaders) { md.set('traceparent', '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01'); md.set('x-agentmesh-deadline', String(Date.now() + 10_000)); }
    Object.assign(wire, { request, metadata: md, cancelled: false, getDeadline: () => Date.now() + 10_000, getAuthContext: () => ({ sslPeerCertificate: peer }) });
    invoke(wire, (error) => (error ? reject(error) : resolve()));
  });
}
for (let i = 0; i < 20000; i++) await one();
const N = Number(process.env.N ?? 200000);
for (let round = 0; round < 3; round++) {
  const before = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  await Promise.all(Array.from({ length: 32 }, async () => { while (done < N) { done++; await one(); } }));
  const c = process.cpuUsage(before);
  console.log(`pipeline: ${((c.user + c.system) / N).toFixed(2)} µs cpu/call, ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs wall/call`);
}
await agent.drain(0);
await bench.close();
process.exit(0);
