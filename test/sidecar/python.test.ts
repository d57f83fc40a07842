import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ReceivedEvent } from '../../src/pubsub/event.js';
import { Code } from '../../src/core/errors.js';
import { ensureCaDir, issueToDir } from '../../src/identity/certs-dir.js';
import { requirePythonModules, spawnPython } from '../helpers/python.js';
import { spawnEntryPoint, type RunningEntryPoint } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const python = requirePythonModules(['grpc', 'grpc_tools'], 'python3-grpcio python3-grpc-tools');
const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;

describe.skipIf(!python)('Python agents', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let mesh: TestMesh;
  let tsAgent: RunningAgent;
  const processes: RunningEntryPoint[] = [];
  let sidecar: RunningEntryPoint;
  let app: RunningEntryPoint;
  let socketDir: string;
  const received: ReceivedEvent[] = [];

  beforeAll(async () => {
    temp = await makeTempDir('agent-mesh-python-');
    await ensureCaDir(temp.dir, 'agentmesh.local');
    // grpcio checks a server's DNS and IP SANs only, never URI SANs: the control plane needs its address as an IP
    // SAN for the direct Python agent (examples/python/direct_agent.py explains the limitation).
    await issueToDir(temp.dir, 'control-plane', { ipAddresses: ['127.0.0.1'] });
    await issueToDir(temp.dir, 'py-shouter-1', { types: ['shouter'] });
    await issueToDir(temp.dir, 'py-direct-1', { types: ['reverser'] });
    mesh = await startTestMesh({ certsDir: temp.dir });
    tsAgent = await startAgent({
      identity: await mesh.identity('ts-echo-1', ['echoer']),
      controlPlane: mesh.controlPlane.address,
      type: 'echoer',
      subscriptions: [{ pattern: 'orders.>', handler: (event) => void received.push(event) }],
      methods: {
        echo: async (request, call) => ({
          payload: Buffer.from(
            JSON.stringify({
              text: request.payload.toString(),
              ...(request.contentType === 'application/json' ? { contentType: request.contentType } : {}),
              caller: call.caller.uri,
              chain: call.context.chain,
            }),
          ),
          contentType: 'application/json',
        }),
      },
    });
    // The app makes the private directory and listens in it; the sidecar puts its outbound socket beside.
    socketDir = join(temp.dir, 'sockets');
    app = spawnPython(python!, 'examples/python/agent.py', ['--socket-dir', socketDir]);
    processes.push(app);
    const [, appAddress] = await app.waitFor(/python agent listening on (unix:\S+)/);
    expect(appAddress).toBe(`unix:${socketDir}/app.sock`);
    sidecar = spawnEntryPoint([
      'sidecar',
      '--certs',
      temp.dir,
      '--control-plane',
      mesh.controlPlane.address,
      '--name',
      'py-shouter-1',
      '--type',
      'shouter',
      '--capability',
      'shout',
      '--app',
      appAddress!,
      '--socket-dir',
      socketDir,
      '--subscribe',
      'py.inbox.>',
      '--publish',
      'orders.>',
      '--log-level',
      'warn',
    ]);
    processes.push(sidecar);
    await sidecar.waitFor(/outbound\s+unix:\S+outbound\.sock/);
    const direct = spawnPython(python!, 'examples/python/direct_agent.py', [
      '--certs',
      temp.dir,
      '--name',
      'py-direct-1',
      '--type',
      'reverser',
      '--control-plane',
      mesh.controlPlane.address,
    ]);
    processes.push(direct);
    await direct.waitFor(/python direct agent py-direct-1 registered/);
    await until(
      () =>
        tsAgent.cache.select({ type: 'shouter' }).length === 1 &&
        tsAgent.cache.select({ type: 'reverser' }).length === 1,
      'the TypeScript agent sees both Python agents',
    );
  }, 60_000);

  afterAll(async () => {
    for (const running of processes.reverse()) await running.stop('SIGKILL');
    await tsAgent?.drain(0);
    await mesh?.close();
    await temp?.remove();
  });

  it('serves the app and the outbound port on Unix sockets in a directory only their user enters', async () => {
    expect((await stat(socketDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(socketDir, 'app.sock'))).isSocket()).toBe(true);
    expect((await stat(join(socketDir, 'outbound.sock'))).mode & 0o777).toBe(0o600);
    // Neither warns: nothing else on the machine can reach the app or act as the agent.
    expect(sidecar.output()).not.toMatch(/"level":40/);
  });

  it('calls the Python agent behind the sidecar through the mesh', async () => {
    const result = await tsAgent.mesh.call({ type: 'shouter' }, 'shout', 'hello mesh');
    expect(result.payload.toString()).toBe('HELLO MESH!');
    expect(result.agent.spiffeId).toBe(ID('py-shouter-1'));
  });

  it('passes the verified caller to the Python agent', async () => {
    const result = await tsAgent.mesh.call({ type: 'shouter' }, 'whoami', '', { conversationId: 'py-conv' });
    expect(JSON.parse(result.payload.toString())).toEqual({
      caller: ID('ts-echo-1'),
      chain: [ID('ts-echo-1')],
      conversation: 'py-conv',
    });
  });

  it("streams the Python agent's chunks", async () => {
    const chunks: string[] = [];
    for await (const chunk of tsAgent.mesh.stream({ type: 'shouter' }, 'shout-words', 'one two three')) {
      chunks.push(chunk.payload.toString());
    }
    expect(chunks).toEqual(['ONE', 'TWO', 'THREE']);
  });

  it('lets the Python agent call the TypeScript agent back through its sidecar, as its own identity', async () => {
    const result = await tsAgent.mesh.call({ type: 'shouter' }, 'ask', {
      type: 'echoer',
      method: 'echo',
      text: 'ping',
    });
    const reply = JSON.parse(result.payload.toString()) as { asked: string; answer: string };
    expect(reply.asked).toBe('echoer.echo');
    expect(JSON.parse(reply.answer)).toEqual({
      text: 'ping',
      caller: ID('py-shouter-1'),
      chain: [ID('ts-echo-1'), ID('py-shouter-1')],
    });
  });

  it('passes a JSON document on as JSON when asked with "json", as the README calls a summarizer', async () => {
    const result = await tsAgent.mesh.call({ type: 'shouter' }, 'ask', {
      type: 'echoer',
      method: 'echo',
      json: { title: 'hi', text: 'Agents talk.' },
    });
    const reply = JSON.parse(result.payload.toString()) as { answer: string };
    const answer = JSON.parse(reply.answer) as { text: string; contentType: string };
    expect(answer.contentType).toBe('application/json');
    expect(JSON.parse(answer.text)).toEqual({ title: 'hi', text: 'Agents talk.' });
  });

  it('publishes through the sidecar as the Python agent; a TypeScript subscriber handles the event', async () => {
    const result = await tsAgent.mesh.call({ type: 'shouter' }, 'publish', {
      topic: 'orders.created',
      json: { order: 7 },
      key: 'c-42',
    });
    const report = JSON.parse(result.payload.toString()) as { eventId: string; subscriptions: number };
    expect(report).toMatchObject({ accepted: true, subscriptions: 1, groups: 0 });
    await until(
      () => received.some((event) => event.id === report.eventId),
      'the TypeScript subscriber has it',
    );
    const event = received.find((entry) => entry.id === report.eventId)!;
    // The publisher is the sidecar's verified identity, and the event continues the call that asked for it.
    expect(event).toMatchObject({ topic: 'orders.created', publisher: ID('py-shouter-1'), key: 'c-42' });
    expect(JSON.parse(event.payload.toString())).toEqual({ order: 7 });
    expect(event.context.chain).toEqual([ID('ts-echo-1'), ID('py-shouter-1')]);
  });

  it("refuses a publish outside the topics the sidecar declared, in the mesh's words", async () => {
    await expect(
      tsAgent.mesh.call({ type: 'shouter' }, 'publish', { topic: 'invoices.created', json: {} }),
    ).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: expect.stringMatching(/publishes to/),
    });
  });

  it("delivers a TypeScript agent's events to the Python agent, whose answers acknowledge them", async () => {
    await until(
      () => tsAgent.cache.select({ type: 'shouter' })[0]?.spec.subscriptions.length === 1,
      "the publisher sees the sidecar's subscription",
    );
    const plain = await tsAgent.publish('py.inbox.hello', { text: 'hi' });
    const retried = await tsAgent.publish('py.inbox.again', { retry: true });
    expect(plain.subscriptions).toBe(1);
    await app.waitFor(
      new RegExp(`python agent handled py\\.inbox\\.hello ${plain.eventId} \\{"text":"hi"\\}`),
    );
    // The app asked for this one again on its first attempt (RETRY), and handled the redelivery.
    await app.waitFor(new RegExp(`python agent handled py\\.inbox\\.again ${retried.eventId}`));
    await until(() => tsAgent.publisher.stats.delivered >= 2, 'both deliveries are acknowledged');
    expect(tsAgent.publisher.stats.retried).toBeGreaterThanOrEqual(1);
    expect(tsAgent.publisher.stats.deadLettered).toBe(0);
  });

  it('calls the Python agent that joined directly over mTLS, which sees the verified caller', async () => {
    const result = await tsAgent.mesh.call({ type: 'reverser' }, 'reverse', 'abc');
    expect(result.payload.toString()).toBe(`cba (for ${ID('ts-echo-1')})`);
    expect(result.agent.spiffeId).toBe(ID('py-direct-1'));
  });

  it('keeps the sidecar serving through a Python app killed with SIGKILL and started again', async () => {
    expect(await app.stop('SIGKILL')).not.toBe(0);
    // While the app is gone, a call fails UNAVAILABLE (from the sidecar, or from a client that saw it unhealthy).
    await expect(
      tsAgent.mesh.call({ type: 'shouter' }, 'shout', 'anyone?', { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    app = spawnPython(python!, 'examples/python/agent.py', ['--socket-dir', socketDir]);
    processes.push(app);
    await app.waitFor(/python agent listening on unix:/);
    // The same sidecar reaches the new app on the same socket: a new connection, no restart.
    await until(
      () =>
        tsAgent.mesh.call({ type: 'shouter' }, 'shout', 'back').then(
          (result) => result.payload.toString() === 'BACK!',
          () => false,
        ),
      'a call reaches the restarted app',
    );
  });

  it('drains the sidecar on SIGTERM: the agent leaves the registry and the sidecar exits 0', async () => {
    expect(await sidecar.stop('SIGTERM')).toBe(0);
    const admin = await mesh.client('control-plane');
    await expect(admin.getAgent('py-shouter-1')).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });
});
