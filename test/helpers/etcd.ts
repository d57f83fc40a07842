import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { makeTempDir } from './temp-dir.js';
import { requireSystemBinary } from './system-binary.js';

/** A real etcd process on loopback, in a temporary data directory. */
export interface EtcdProcess {
  endpoint: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The etcd binary, or undefined (with a printed reason) when it is missing on a developer's machine. */
export const etcdBinary = requireSystemBinary('etcd', 'etcd-server');

/** Starts etcd and resolves once it serves clients. */
export async function startEtcd(): Promise<EtcdProcess> {
  if (!etcdBinary) throw new Error('etcd is not installed');
  const temp = await makeTempDir('agent-mesh-etcd-');
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child: ChildProcess = spawn(
    etcdBinary,
    [
      '--name',
      'test',
      '--data-dir',
      temp.dir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `test=${peer}`,
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited at start: ${output}`);
    const healthy = await fetch(`${client}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`etcd did not become healthy in 20s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint: client,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await temp.remove();
    },
  };
}
