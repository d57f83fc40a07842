import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { issueToDir } from '../../src/identity/certs-dir.js';
import { initNatsAuthority } from '../../src/nats/nats-accounts.js';
import { freePort } from './ports.js';
import { requireSystemBinary } from './system-binary.js';
import { makeTempDir } from './temp-dir.js';
import type { TestCa } from './test-ca.js';
import { until } from './until.js';

/** The SPIFFE ID of the test NATS servers' certificate (issued as `nats` by the test CA). */
export const NATS_SERVER_IDENTITY = 'spiffe://agentmesh.local/agent/nats';

/** The nats-server binary, or undefined (with a printed reason) when it is missing on a developer's machine. */
export const natsBinary = requireSystemBinary('nats-server', 'nats-server');

/** One node of a test NATS cluster: it can be killed and started again on its data directory and ports. */
export interface NatsNode {
  /** Its `server_name`. */
  name: string;
  /** Its client URL, `tls://127.0.0.1:PORT`. */
  url: string;
  /** Its monitoring URL, `http://127.0.0.1:PORT`. */
  monitorUrl: string;
  /** Its cluster (route) URL, `nats://127.0.0.1:PORT`; undefined for a single node. */
  routeUrl: string | undefined;
  /** Whether its process is running. */
  readonly running: boolean;
  /** SIGKILL: gone at once, as in a crash. Resolves once the process has exited. */
  kill(): Promise<void>;
  /** Starts it (again, on the same data directory and ports: it rejoins); {@link NatsCluster.ready} waits for it. */
  start(): Promise<void>;
  /** The end of its log. */
  readonly output: string;
}

/** A real NATS JetStream cluster on loopback, configured as the mesh configures NATS (operator mode, mTLS). */
export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's client URL. */
  urls: string[];
  /** A certificate directory whose `nats/` holds the authority the servers trust: pass it to `readNatsAuthority`. */
  certsDir: string;
  /**
   * Resolves once `node` (every node when omitted) reports JetStream healthy on `/healthz` and the meta leader
   * counts it as a current peer, so that a replicated stream can be created right after; throws after `timeoutMs`,
   * or at once when a node it waits for is not running, with the end of that node's log.
   */
  ready(node?: NatsNode, timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the temporary directory. */
  stop(): Promise<void>;
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** The number of nodes: 1 (no cluster block) or 3. */
  size: number;
  /**
   * Who signs the certificate (identity `nats`) the servers present on client and route connections: a test CA
   * (the authority then goes to a directory of the cluster's own), or a mesh's certificate directory, whose CA
   * signs it and which gets the NATS authority (`nats/`), as `agent-mesh ca nats` does, for that mesh's control
   * plane to use.
   */
  ca?: TestCa;
  certsDir?: string;
}

const OUTPUT_LIMIT = 8_000;

// Every process still running when the test process exits is killed, whatever way the test ended.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const running of live) running.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

interface Healthz {
  status?: string;
  error?: string;
}

interface Jsz {
  meta_cluster?: {
    leader?: string;
    cluster_size?: number;
    replicas?: { name: string; current: boolean; offline?: boolean }[];
  };
}

async function fetchJson<T>(url: string): Promise<{ status: number; body: T } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { status: response.status, body: (await response.json()) as T };
  } catch {
    return undefined;
  }
}

async function metaCluster(node: NatsNode): Promise<Jsz['meta_cluster']> {
  return (await fetchJson<Jsz>(`${node.monitorUrl}/jsz`))?.body.meta_cluster;
}

/**
 * Whether a node is ready: `/healthz` answers 200 `{"status":"ok"}` (2.9.10 answers 503 "JetStream has not
 * established contact with a meta leader" until there is one, and checks that the node's streams and consumers are
 * current) and, in a cluster, the meta leader lists the node as a current, online peer. Only the leader's `/jsz`
 * lists peers (`replicas`); note that it goes on calling a killed peer current for about ten seconds.
 */
async function isReady(node: NatsNode, nodes: readonly NatsNode[]): Promise<boolean> {
  const health = await fetchJson<Healthz>(`${node.monitorUrl}/healthz`);
  if (health?.status !== 200 || health.body.status !== 'ok') return false;
  if (nodes.length === 1) return true;
  const leaderName = (await metaCluster(node))?.leader;
  if (!leaderName) return false;
  if (leaderName === node.name) return true;
  const leader = nodes.find((other) => other.name === leaderName);
  if (!leader?.running) return false;
  const meta = await metaCluster(leader);
  if (meta?.leader !== leaderName) return false;
  return (meta.replicas ?? []).some(
    (replica) => replica.name === node.name && replica.current && !replica.offline,
  );
}

/** `count` different free loopback ports (each found free on its own, so two picks could coincide). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Starts a cluster of `size` NATS JetStream nodes and resolves once every node is ready. */
export async function startNatsCluster(options: NatsClusterOptions): Promise<NatsCluster> {
  const { size, ca } = options;
  if (!natsBinary) throw new Error('nats-server is not installed');
  if (size !== 1 && size !== 3) throw new Error(`a test NATS cluster has 1 or 3 nodes, not ${size}`);
  const temp = await makeTempDir('agent-mesh-nats-');
  const nodes: NatsNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    await temp.remove();
  };
  try {
    let tls: { certFile: string; keyFile: string; caFile: string };
    let certsDir: string;
    if (options.certsDir) {
      certsDir = options.certsDir;
      await issueToDir(certsDir, 'nats', { ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
      tls = {
        certFile: join(certsDir, 'nats.crt'),
        keyFile: join(certsDir, 'nats.key'),
        caFile: join(certsDir, 'ca.crt'),
      };
    } else {
      if (!ca) throw new Error('startNatsCluster needs a test CA or a certificate directory');
      const tlsDir = join(temp.dir, 'tls');
      await mkdir(tlsDir);
      const server = await ca.ca.issue('nats', { ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
      tls = {
        certFile: join(tlsDir, 'nats.pem'),
        keyFile: join(tlsDir, 'nats.key'),
        caFile: join(tlsDir, 'ca.pem'),
      };
      await writeFile(tls.certFile, server.certificatePem);
      await writeFile(tls.keyFile, server.privateKeyPem, { mode: 0o600 });
      await writeFile(tls.caFile, ca.ca.trustBundle.pem);
      certsDir = join(temp.dir, 'certs');
    }
    const authority = await initNatsAuthority(certsDir, tls);

    const ports = await distinctFreePorts(size * 3);
    const specs = Array.from({ length: size }, (_, i) => ({
      name: `nats-${i + 1}`,
      dir: join(temp.dir, `nats-${i + 1}`),
      client: ports[3 * i]!,
      monitor: ports[3 * i + 1]!,
      route: ports[3 * i + 2]!,
    }));
    const q = JSON.stringify;
    for (const spec of specs) {
      await mkdir(spec.dir);
      const routes = specs
        .filter((other) => other !== spec)
        .map((other) => `nats://127.0.0.1:${other.route}`);
      const config = [
        // nats-server 2.9.10 joins every include path to the including file's directory, even an absolute one.
        `include ${q(relative(spec.dir, authority.serverConfig))}`,
        `server_name: ${spec.name}`,
        `listen: "127.0.0.1:${spec.client}"`,
        `http: "127.0.0.1:${spec.monitor}"`,
        `jetstream { store_dir: ${q(join(spec.dir, 'jetstream'))} }`,
        // Routes: mutual TLS with the mesh CA, and only the NATS servers' own identity may connect as a route
        // (`verify_and_map` matches the URI SAN). With `verify: true` alone, any certificate the mesh CA signed,
        // every agent's, would be let in as a route, and the cluster trusts a route with every account's traffic.
        ...(size > 1
          ? [
              'cluster {',
              '  name: agent-mesh-test',
              `  listen: "127.0.0.1:${spec.route}"`,
              `  routes: [${routes.map((route) => q(route)).join(', ')}]`,
              '  tls {',
              `    cert_file: ${q(tls.certFile)}`,
              `    key_file: ${q(tls.keyFile)}`,
              `    ca_file: ${q(tls.caFile)}`,
              '    verify_and_map: true',
              '  }',
              `  authorization { user: ${q(NATS_SERVER_IDENTITY)} }`,
              '}',
            ]
          : []),
        '',
      ].join('\n');
      await writeFile(join(spec.dir, 'nats.conf'), config);
    }

    for (const spec of specs) {
      let child: ChildProcess | undefined;
      let exited: Promise<void> = Promise.resolve();
      let output = '';
      const node: NatsNode = {
        name: spec.name,
        url: `tls://127.0.0.1:${spec.client}`,
        monitorUrl: `http://127.0.0.1:${spec.monitor}`,
        routeUrl: size > 1 ? `nats://127.0.0.1:${spec.route}` : undefined,
        get running() {
          return child !== undefined && child.exitCode === null && child.signalCode === null;
        },
        async kill() {
          if (node.running) child!.kill('SIGKILL');
          await exited;
        },
        async start() {
          if (node.running) throw new Error(`NATS ${spec.name} is already running`);
          output = '';
          const started = spawn(natsBinary, ['-c', join(spec.dir, 'nats.conf')], {
            cwd: temp.dir,
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          child = started;
          track(started);
          started.stderr?.on('data', (chunk: Buffer) => {
            output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
          });
          exited = new Promise((resolve) => {
            started.once('exit', () => resolve());
            // A process that could not be spawned emits no 'exit'.
            started.once('error', (error) => {
              output += `\n${error.message}`;
              resolve();
            });
          });
        },
        get output() {
          return output;
        },
      };
      nodes.push(node);
    }

    const cluster: NatsCluster = {
      nodes,
      urls: nodes.map((node) => node.url),
      certsDir,
      async ready(node, timeoutMs = 30_000) {
        const waitFor = node ? [node] : nodes;
        await Promise.all(
          waitFor.map((member) =>
            until(
              async () => {
                if (!member.running) throw new Error(`NATS ${member.name} is not running`);
                return isReady(member, nodes);
              },
              `NATS ${member.name} is ready`,
              timeoutMs,
            ).catch((error: unknown) => {
              throw new Error(`${(error as Error).message}; its log ends:\n${member.output.slice(-2_000)}`, {
                cause: error,
              });
            }),
          ),
        );
      },
      stop,
    };
    await Promise.all(nodes.map((node) => node.start()));
    await cluster.ready();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}
