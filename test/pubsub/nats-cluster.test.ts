import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@nats-io/jwt';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
} from '@nats-io/jetstream';
import { PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { EventStore } from '../../src/control-plane/event-store.js';
import { Code } from '../../src/core/errors.js';
import { ALLOW_ALL } from '../../src/core/policy.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  readNatsAuthority,
  signNatsUser,
  type NatsAuthority,
  type NatsPermissions,
} from '../../src/nats/nats-accounts.js';
import { connectToEventStore } from '../../src/nats/nats-connection.js';
import { eventPermissions } from '../../src/nats/permissions.js';
import {
  EVENT_STREAM,
  consumerName,
  eventSubject,
  inboxPrefix,
  subscriptionFilter,
} from '../../src/nats/subjects.js';
import type { MeshIdentity } from '../../src/transport/mesh-identity.js';
import {
  NATS_SERVER_IDENTITY,
  natsBinary,
  startNatsCluster,
  type NatsCluster,
  type NatsNode,
} from '../helpers/nats.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';

const FULL: NatsPermissions = {
  pub: { allow: ['>'], deny: [] },
  sub: { allow: ['>'], deny: [] },
};

async function routeCount(node: Pick<NatsNode, 'monitorUrl'>): Promise<number> {
  const response = await fetch(`${node.monitorUrl}/routez`, { signal: AbortSignal.timeout(5_000) });
  return ((await response.json()) as { num_routes: number }).num_routes;
}

/** The PermissionViolationError anywhere in `error`'s cause chain. */
function permissionViolation(error: unknown): PermissionViolationError | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof PermissionViolationError) return current;
  }
  return undefined;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(!natsBinary)('a NATS JetStream cluster configured as the mesh configures it', () => {
  let ca: TestCa;
  let cluster: NatsCluster;
  let authority: NatsAuthority;
  const connections: NatsConnection[] = [];
  let admin: NatsConnection;
  let adminJs: JetStreamClient;
  let adminJsm: JetStreamManager;
  const alphaUri = 'spiffe://agentmesh.local/agent/alpha-1';
  const alphaConsumer = consumerName(alphaUri, { pattern: 'tasks.>', group: '' });

  async function connectAs(
    identity: MeshIdentity,
    permissions: NatsPermissions,
    options: { inboxPrefix?: string; serverIdentity?: string } = {},
  ): Promise<NatsConnection> {
    const user = createUser();
    const jwt = await signNatsUser(authority, {
      name: identity.spiffeId.uri,
      publicKey: user.getPublicKey(),
      permissions,
      expiresAt: 0,
    });
    const nc = await connectToEventStore({
      identity,
      servers: cluster.urls,
      serverIdentity: options.serverIdentity ?? NATS_SERVER_IDENTITY,
      credentials: () => ({ jwt, seed: user.getSeed() }),
      name: identity.spiffeId.uri,
      ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
    });
    connections.push(nc);
    return nc;
  }

  beforeAll(async () => {
    ca = await createTestCa();
    cluster = await startNatsCluster({ size: 3, ca });
    authority = await readNatsAuthority(cluster.certsDir);
    admin = await connectAs(await ca.identity('control-plane'), FULL);
    adminJs = jetstream(admin);
    adminJsm = await jetstreamManager(admin);
  });

  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close()));
    await cluster?.stop();
  });

  it('lets a full-permission user create a replicated event stream and a durable consumer', async () => {
    const stream = await adminJsm.streams.add({
      name: EVENT_STREAM,
      subjects: ['am.ev.>'],
      num_replicas: 3,
    });
    expect(stream.config.num_replicas).toBe(3);
    const consumer = await adminJsm.consumers.add(EVENT_STREAM, {
      durable_name: alphaConsumer,
      ack_policy: AckPolicy.Explicit,
      filter_subject: subscriptionFilter('tasks.>'),
    });
    expect(consumer.name).toBe(alphaConsumer);
  });

  it('holds an identity to the permissions the mesh derives from its policies', async () => {
    const alpha = await connectAs(
      await ca.identity('alpha-1'),
      eventPermissions(ALLOW_ALL, { uri: alphaUri, types: [] }, [
        { consumer: alphaConsumer, pattern: 'tasks.>' },
      ]),
      { inboxPrefix: inboxPrefix(alphaUri) },
    );
    const js = jetstream(alpha);

    const ack = await js.publish(eventSubject(alphaUri, 'tasks.created'), 'task 1', { msgID: 'alpha-1' });
    expect(ack.stream).toBe(EVENT_STREAM);
    expect(ack.duplicate).toBe(false);

    const forged = eventSubject('spiffe://agentmesh.local/agent/beta-1', 'tasks.created');
    const forgedError = await rejection(js.publish(forged, 'forged', { timeout: 5_000 }));
    expect(permissionViolation(forgedError)).toMatchObject({ operation: 'publish', subject: forged });

    const everything = alpha.subscribe('am.ev.>');
    const closedWith = await everything.closed;
    expect(permissionViolation(closedWith)).toMatchObject({ operation: 'subscription', subject: 'am.ev.>' });

    const jsm = await jetstreamManager(alpha, { checkAPI: false });
    const createError = await rejection(
      jsm.consumers.add(EVENT_STREAM, { durable_name: 'stolen', ack_policy: AckPolicy.Explicit }),
    );
    expect(permissionViolation(createError)?.subject).toMatch(/^\$JS\.API\.CONSUMER\./);

    const consumer = await js.consumers.get(EVENT_STREAM, alphaConsumer);
    const message = await consumer.next({ expires: 10_000 });
    expect(message?.subject).toBe(eventSubject(alphaUri, 'tasks.created'));
    expect(message?.string()).toBe('task 1');
    expect(await message?.ackAck({ timeout: 5_000 })).toBe(true);
    expect((await consumer.info()).num_ack_pending).toBe(0);
    // Still connected: the refused operations cost the identity nothing it may do.
    expect(alpha.isClosed()).toBe(false);
  });

  it('refuses a NATS server whose certificate names another SPIFFE ID', async () => {
    const identity = await ca.identity('alpha-1');
    // The TLS handshake fails with the error connectToEventStore's own server check returns.
    await expect(
      connectAs(identity, FULL, { serverIdentity: 'spiffe://agentmesh.local/agent/not-nats' }),
    ).rejects.toThrow(/not the mesh's event store spiffe:\/\/agentmesh\.local\/agent\/not-nats/);
  });

  it('refuses a route from a server holding another mesh identity than the NATS servers', async () => {
    const temp = await makeTempDir('agent-mesh-nats-rogue-');
    const material = await ca.material('alpha-1', { ipAddresses: ['127.0.0.1'] });
    const files = {
      cert: join(temp.dir, 'cert.pem'),
      key: join(temp.dir, 'key.pem'),
      ca: join(temp.dir, 'ca.pem'),
    };
    await writeFile(files.cert, material.certificatePem);
    await writeFile(files.key, material.privateKeyPem, { mode: 0o600 });
    await writeFile(files.ca, material.trustBundlePem);
    const target = cluster.nodes[0]!;
    const rogueMonitor = await freePort();
    const q = JSON.stringify;
    await writeFile(
      join(temp.dir, 'rogue.conf'),
      [
        'server_name: rogue',
        `listen: "127.0.0.1:${await freePort()}"`,
        `http: "127.0.0.1:${rogueMonitor}"`,
        'cluster {',
        '  name: agent-mesh-test',
        `  listen: "127.0.0.1:${await freePort()}"`,
        `  routes: [${q(target.routeUrl)}]`,
        `  tls { cert_file: ${q(files.cert)}, key_file: ${q(files.key)}, ca_file: ${q(files.ca)}, verify: true }`,
        '}',
        '',
      ].join('\n'),
    );
    const routesBefore = await routeCount(target);
    const rogue = spawn(natsBinary!, ['-c', join(temp.dir, 'rogue.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise((resolve) => rogue.once('exit', resolve));
    let rogueLog = '';
    rogue.stderr.on('data', (chunk: Buffer) => (rogueLog = (rogueLog + chunk.toString()).slice(-65_536)));
    try {
      // The target answers the rogue's route with the protocol's -ERR 'Authorization Violation', which the rogue
      // logs: wait for that rather than for time to pass.
      await until(
        () => rogueLog.includes("'Authorization Violation'"),
        `${target.name} refuses the rogue route`,
        15_000,
      );
      expect(await routeCount(target)).toBe(routesBefore);
      expect(await routeCount({ monitorUrl: `http://127.0.0.1:${rogueMonitor}` })).toBe(0);
    } finally {
      rogue.kill('SIGKILL');
      await exited;
      await temp.remove();
    }
  });

  it('keeps every acknowledged publish when a node is killed mid-stream, and the node rejoins', async () => {
    const subject = eventSubject('spiffe://agentmesh.local/agent/loader-1', 'load.tick');
    const total = 200;
    const acked = new Map<string, PubAck>();
    let retries = 0;
    const streamLeader = (await adminJsm.streams.info(EVENT_STREAM)).cluster?.leader;
    const victim = cluster.nodes.find((node) => node.name === streamLeader) ?? cluster.nodes[0]!;

    for (let i = 0; i < total; i += 1) {
      if (i === total / 4) await victim.kill();
      const msgID = `load-${i}`;
      const deadline = Date.now() + 60_000;
      for (let attempt = 0; ; attempt += 1) {
        try {
          acked.set(msgID, await adminJs.publish(subject, `tick ${i}`, { msgID, timeout: 2_000 }));
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          retries += 1;
          // A backoff between attempts while the stream elects a new leader, not a wait for an event.
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
        }
      }
    }
    expect(acked.size).toBe(total);
    console.log(
      `${retries} publish attempts were retried after ${victim.name}, the stream leader, was killed` +
        ` (the admin was connected to ${admin.info?.server_name ?? 'an unknown node'} at the end)`,
    );

    // Every acknowledged publish is stored, once (a retried one that had been stored is a duplicate), while the
    // victim is still down. Read by sequence from the stream leader rather than through a new consumer: 2.9.10 may
    // place a new consumer on the dead node, which its meta leader counts as current for about ten seconds.
    const { state } = await adminJsm.streams.info(EVENT_STREAM, { subjects_filter: subject });
    expect(state.subjects?.[subject]).toBe(total);
    const stored = new Map<string, number>();
    for (let seq = state.first_seq; seq <= state.last_seq; seq += 1) {
      const message = await adminJsm.streams.getMessage(EVENT_STREAM, { seq });
      if (message?.subject !== subject) continue;
      const id = message.header.get('Nats-Msg-Id');
      stored.set(id, (stored.get(id) ?? 0) + 1);
    }
    expect([...acked.keys()].filter((id) => stored.get(id) !== 1)).toEqual([]);
    expect(stored.size).toBe(total);

    await victim.start();
    await cluster.ready(victim, 60_000);
    await until(
      async () => {
        const replicas = (await adminJsm.streams.info(EVENT_STREAM)).cluster?.replicas ?? [];
        return replicas.length === 2 && replicas.every((replica) => replica.current && !replica.offline);
      },
      `the stream's replicas, ${victim.name} among them, are current again`,
      60_000,
    );
  });

  it('names a stream that holds its subjects, then creates its own; grants only its domain and its own consumers', async () => {
    // Another stream (an earlier build's, say) on part of the mesh's subjects.
    await adminJsm.streams.delete(EVENT_STREAM);
    await adminJsm.streams.add({ name: 'OLD_EVENTS', subjects: ['am.ev.>'] });
    const lines: Array<Record<string, unknown>> = [];
    const store = new EventStore({
      servers: cluster.urls,
      authority,
      identity: await ca.identity('control-plane'),
      serverIdentity: NATS_SERVER_IDENTITY,
      logger: createLogger({
        level: 'warn',
        pretty: false,
        destination: {
          write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
        },
      }),
    });
    try {
      const message = () =>
        lines
          .map((line) => String((line.err as { message?: string } | undefined)?.message))
          .find((text) => text.includes('OLD_EVENTS'));
      await until(() => message() !== undefined, 'the control plane says which stream holds the subjects');
      expect(message()).toMatch(
        /^the stream OLD_EVENTS on the NATS servers holds the mesh's subjects .*let its consumers catch up, then delete it \(nats stream rm OLD_EVENTS\)/,
      );
      await adminJsm.streams.delete('OLD_EVENTS');
      const jsm = await store.manager();
      expect((await jsm.streams.info(EVENT_STREAM)).config.subjects).toEqual(['am.ev.>', 'am.dl.>']);

      const ask = (uri: string, subscriptions: Array<{ pattern: string; group: string }>) =>
        store.grant(
          { uri, types: [] },
          ALLOW_ALL,
          subscriptions.map((s) => ({ ...s, maxInFlight: 0 })),
          { userPublicKey: createUser().getPublicKey(), starts: [] },
        );
      // A subject token is a SPIFFE path, read back in the mesh's own trust domain: no other domain's identity
      // gets credentials.
      await expect(ask('spiffe://partner.example/agent/alpha-1', [])).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
        message: expect.stringMatching(/serves identities of agentmesh.local only/),
      });
      // A consumer name another subscription's filter already has (what a crafted group and pattern could reach):
      // refused, not handed over.
      const taken = consumerName(alphaUri, { pattern: 'tasks.>', group: 'crew' });
      await adminJsm.consumers.add(EVENT_STREAM, {
        durable_name: taken,
        ack_policy: AckPolicy.Explicit,
        filter_subject: subscriptionFilter('secret.>'),
      });
      await expect(ask(alphaUri, [{ pattern: 'tasks.>', group: 'crew' }])).rejects.toMatchObject({
        code: Code.FAILED_PRECONDITION,
        message: expect.stringMatching(/exists with another filter/),
      });
      expect((await ask(alphaUri, [{ pattern: 'tasks.>', group: '' }])).consumers).toHaveLength(1);
    } finally {
      await store.close();
      await adminJsm.streams.delete('OLD_EVENTS').catch(() => undefined);
    }
  });
});
