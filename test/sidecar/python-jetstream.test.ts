import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { ensureCaDir, issueToDir } from '../../src/identity/certs-dir.js';
import type { ReceivedEvent } from '../../src/pubsub/event.js';
import { natsBinary, startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { requirePythonModules, spawnPython } from '../helpers/python.js';
import { spawnEntryPoint, type RunningEntryPoint } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

const python = requirePythonModules(['grpc', 'grpc_tools'], 'python3-grpcio python3-grpc-tools');

/**
 * The Python example behind `agent-mesh sidecar`, in a mesh that keeps its events on NATS JetStream: the same app
 * and flags as brokerless (test/sidecar/python.test.ts), the sidecar learns the event store from the control plane.
 */
describe.skipIf(!python || !natsBinary)('a Python agent behind the sidecar, with durable events', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let nats: NatsCluster;
  let mesh: TestMesh;
  let tsAgent: RunningAgent;
  const processes: RunningEntryPoint[] = [];
  let app: RunningEntryPoint;
  const received = collector<ReceivedEvent>();

  beforeAll(async () => {
    temp = await makeTempDir('agent-mesh-python-js-');
    await ensureCaDir(temp.dir, 'agentmesh.local');
    await issueToDir(temp.dir, 'control-plane', { ipAddresses: ['127.0.0.1'] });
    await issueToDir(temp.dir, 'py-shouter-1', { types: ['shouter'] });
    nats = await startNatsCluster({ size: 1, certsDir: temp.dir });
    mesh = await startTestMesh({ certsDir: temp.dir, events: { servers: nats.urls } });
    tsAgent = await startAgent({
      identity: await mesh.identity('ts-echo-1', ['echoer']),
      controlPlane: mesh.controlPlane.address,
      type: 'echoer',
      subscriptions: [{ pattern: 'orders.>', handler: (event) => void received.push(event) }],
    });
    const socketDir = join(temp.dir, 'sockets');
    app = spawnPython(python!, 'examples/python/agent.py', ['--socket-dir', socketDir]);
    processes.push(app);
    const [, appAddress] = await app.waitFor(/python agent listening on (unix:\S+)/);
    const sidecar = spawnEntryPoint([
      ...['sidecar', '--certs', temp.dir, '--control-plane', mesh.controlPlane.address],
      ...['--name', 'py-shouter-1', '--type', 'shouter', '--app', appAddress!, '--socket-dir', socketDir],
      ...['--subscribe', 'py.inbox.>', '--publish', 'orders.>', '--log-level', 'warn'],
    ]);
    processes.push(sidecar);
    await sidecar.waitFor(/outbound\s+unix:\S+outbound\.sock/);
  }, 90_000);

  afterAll(async () => {
    for (const running of processes.reverse()) await running.stop('SIGKILL');
    await tsAgent?.drain(0);
    await mesh?.close();
    await nats?.stop();
    await temp?.remove();
  });

  it('publishes through the sidecar once the stream stored the event; a TypeScript subscriber handles it', async () => {
    const result = await tsAgent.mesh.call({ type: 'shouter' }, 'publish', {
      topic: 'orders.created',
      json: { order: 9 },
      key: 'c-9',
    });
    const report = JSON.parse(result.payload.toString()) as { eventId: string; sequence: number };
    expect(report).toMatchObject({ accepted: true });
    expect(report.sequence).toBeGreaterThan(0);
    const event = await received.next((e) => e.id === report.eventId);
    expect(event).toMatchObject({ publisher: 'spiffe://agentmesh.local/agent/py-shouter-1', key: 'c-9' });
    expect(JSON.parse(event.payload.toString())).toEqual({ order: 9 });
  });

  it("hands a TypeScript agent's stored events to the Python app, whose answers acknowledge them", async () => {
    const plain = await tsAgent.publish('py.inbox.hello', { text: 'durable' });
    const retried = await tsAgent.publish('py.inbox.again', { retry: true });
    expect(plain.sequence).toBeGreaterThan(0);
    await app.waitFor(
      new RegExp(`python agent handled py\\.inbox\\.hello ${plain.eventId} \\{"text":"durable"\\}`),
    );
    // Asked again on its first attempt (RETRY: a NAK with delay), and handled on the redelivery.
    await app.waitFor(new RegExp(`python agent handled py\\.inbox\\.again ${retried.eventId}`));
  });
});
