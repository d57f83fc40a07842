import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './ports.js';
import { makeTempDir } from './temp-dir.js';
import { requireSystemBinary } from './system-binary.js';
import { until } from './until.js';

/** A real etcd process on loopback, in a temporary data directory. */
export interface EtcdProcess {
  endpoint: string;
  stop(): Promise<void>;
}

/** One member of a test etcd cluster: it can be killed and started again on its data directory. */
export interface EtcdMember {
  name: string;
  /** Its client URL. */
  endpoint: string;
  /** Whether its process is running. */
  readonly running: boolean;
  /** SIGKILL: gone at once, as in a crash. */
  kill(): Promise<void>;
  /** Starts it (again, on its data directory: it rejoins the cluster); {@link EtcdCluster.healthy} waits for it. */
  start(): Promise<void>;
  /** The end of what it printed (errors only). */
  readonly output: string;
}

/** A real etcd cluster of several processes on loopback. */
export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL. */
  endpoints: string[];
  /** Resolves once the member answers /health as healthy (it sees a leader), or throws after `timeoutMs`. */
  healthy(member: EtcdMember, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The etcd binary, or undefined (with a printed reason) when it is missing on a developer's machine. */
export const etcdBinary = requireSystemBinary('etcd', 'etcd-server');

async function isHealthy(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return false;
    return ((await response.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/** Starts a cluster of `size` members and resolves once every member is healthy. */
export async function startEtcdCluster(size: number): Promise<EtcdCluster> {
  if (!etcdBinary) throw new Error('etcd is not installed');
  const temp = await makeTempDir('agent-mesh-etcd-');
  const token = `agent-mesh-test-${process.pid}-${Date.now()}`;
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `member-${i + 1}`,
    client: `http://127.0.0.1:${ports[2 * i]}`,
    peer: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const initialCluster = specs.map((spec) => `${spec.name}=${spec.peer}`).join(',');
  const members = specs.map((spec) => {
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    let output = '';
    const member: EtcdMember = {
      name: spec.name,
      endpoint: spec.client,
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      async kill() {
        if (member.running) child!.kill('SIGKILL');
        await exited;
      },
      async start() {
        output = '';
        child = spawn(
          etcdBinary!,
          [
            ...['--name', spec.name, '--data-dir', `${temp.dir}/${spec.name}`],
            ...['--listen-client-urls', spec.client, '--advertise-client-urls', spec.client],
            ...['--listen-peer-urls', spec.peer, '--initial-advertise-peer-urls', spec.peer],
            ...['--initial-cluster', initialCluster, '--initial-cluster-token', token],
            ...['--initial-cluster-state', 'new', '--log-level', 'error'],
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
        const started = child;
        exited = new Promise((resolve) => started.once('exit', () => resolve()));
      },
      get output() {
        return output;
      },
    };
    return member;
  });
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((member) => member.endpoint),
    async healthy(member, timeoutMs = 30_000) {
      await until(
        async () => {
          if (!member.running) throw new Error(`etcd ${member.name} is not running: ${member.output}`);
          return isHealthy(member.endpoint);
        },
        `etcd ${member.name} is healthy`,
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(members.map((member) => member.kill()));
      await temp.remove();
    },
  };
  try {
    await Promise.all(members.map((member) => member.start()));
    await Promise.all(members.map((member) => cluster.healthy(member)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Starts a one-member etcd and resolves once it serves clients. */
export async function startEtcd(): Promise<EtcdProcess> {
  const cluster = await startEtcdCluster(1);
  return { endpoint: cluster.endpoints[0]!, stop: () => cluster.stop() };
}
