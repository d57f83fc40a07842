import { execFile, spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import { GrpcHealthProbe } from '../../src/transport/health-probe.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { createLogger } from '../../src/observability/logger.js';
import { startSidecar, type RunningSidecar } from '../../src/sidecar/sidecar.js';
import {
  FORGED_HEADERS,
  startPlainAgentApp,
  type PlainAgentApp,
  type SeenCall,
} from '../helpers/plain-agent-app.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;
const root = fileURLToPath(new URL('../..', import.meta.url));
/** The user a test runs a local process as, to be another user than the sidecar's. */
const NOBODY = 65_534;

/** What the `caller` agent's `whoami` tells of a call it got. */
interface WhoAmI {
  caller: string;
  chain: string[];
  conversationId?: string;
  tenant?: string;
  traceId: string;
  deadline: number;
}

/** A log that keeps its JSON lines, to read what the sidecar warned about. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'warn',
    pretty: false,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines };
}

/** Runs test/fixtures/outbound-client.ts (as `uid` when given) against the socket at `path`; resolves its output. */
function runOutboundClient(path: string, uid?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'test/fixtures/outbound-client.ts'), path, 'caller', 'whoami'],
      {
        cwd: root,
        timeout: 60_000,
        ...(uid !== undefined ? { uid, gid: uid, env: { PATH: process.env.PATH } } : {}),
      },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

describe('sidecar', () => {
  let mesh: TestMesh;
  let app: PlainAgentApp;
  let sidecar: RunningSidecar;
  let caller: RunningAgent;
  let admin: ControlPlaneClient;
  let outbound: AgentClient;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let socketDir: string;
  let whoamiCalls = 0;
  const log = capturedLogger();

  beforeAll(async () => {
    // Other users may pass through the test's directory (0755), so that only the socket directory keeps them out.
    temp = await makeTempDir('agent-mesh-sidecar-');
    await chmod(temp.dir, 0o755);
    socketDir = join(temp.dir, 'sockets');
    await mkdir(socketDir, { mode: 0o700 });
    mesh = await startTestMesh({
      healthChecks: {
        intervalMs: 100,
        // A bound, not a margin: the NOT_SERVING test fails probes by answer, never by timeout, so a busy machine's
        // slow probe must not mark the sidecar unhealthy in the middle of the other tests.
        timeoutMs: 10_000,
        failureThreshold: 2,
        successThreshold: 1,
        holdDownMs: 100,
      },
    });
    admin = await mesh.client('control-plane');
    app = await startPlainAgentApp(`unix:${socketDir}/app.sock`);
    sidecar = await startSidecar({
      identity: await mesh.identity('shouter-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'shouter',
      capabilities: ['shout'],
      app: app.address,
      socketDir,
      healthIntervalMs: 100,
      logger: log.logger,
    });
    app.setOutbound(sidecar.outboundAddress);
    caller = await startAgent({
      identity: await mesh.identity('caller-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'caller',
      methods: {
        whoami: async (_request, call) => {
          whoamiCalls += 1;
          const { chain, conversationId, tenant, traceparent } = call.context;
          const answer: WhoAmI = {
            caller: call.caller.uri,
            chain,
            ...(conversationId ? { conversationId } : {}),
            ...(tenant ? { tenant } : {}),
            traceId: traceparent?.split('-')[1] ?? '',
            deadline: call.deadline,
          };
          return { payload: Buffer.from(JSON.stringify(answer)), contentType: 'application/json' };
        },
      },
      streams: {
        letters: async function* (request) {
          for (const letter of request.payload.toString())
            yield { payload: Buffer.from(letter), contentType: 'text/plain' };
        },
      },
    });
    await until(
      () => caller.cache.select({ type: 'shouter' }).length === 1,
      'the caller sees the sidecar agent',
    );
    await until(
      () => sidecar.agent.cache.select({ type: 'caller' }).length === 1,
      'the sidecar sees the caller',
    );
    const { protos } = loadMeshProtos();
    outbound = new protos.agentmesh.v1.Agent(sidecar.outboundAddress, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    outbound?.close();
    await caller?.drain(0);
    await sidecar?.stop(0);
    await app?.close();
    await mesh?.close();
    await temp?.remove();
  });

  /** One unary call to the outbound port, as the app would make it. */
  const callOut = (headers: Record<string, string>, method = 'whoami') =>
    new Promise<{ code: number; details: string; payload?: string }>((resolve) => {
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
      outbound.Invoke(
        { method, payload: Buffer.alloc(0), contentType: 'text/plain' },
        metadata,
        { deadline: Date.now() + 5_000 },
        (error, response) =>
          resolve(
            error
              ? { code: error.code, details: error.details }
              : { code: 0, details: '', payload: response!.payload.toString() },
          ),
      );
    });

  it('registers the app as an agent with the sidecar as its mTLS endpoint', async () => {
    const record = await admin.getAgent('shouter-1');
    expect(record.spec.type).toBe('shouter');
    expect(record.spec.capabilities).toEqual(['shout']);
    expect(record.spec.endpoint).toBe(sidecar.agent.address);
    expect(record.spiffeId).toBe(ID('shouter-1'));
  });

  it('forwards an inbound call to the app with the verified caller and the propagated context', async () => {
    const result = await caller.mesh.call({ type: 'shouter' }, 'echo', 'hi', { conversationId: 'conv-7' });
    const seen = JSON.parse(result.payload.toString()) as SeenCall;
    expect(seen.method).toBe('echo');
    expect(seen.metadata['x-agentmesh-caller']).toBe(ID('caller-1'));
    expect(seen.metadata['x-agentmesh-chain']).toBe(ID('caller-1'));
    expect(seen.metadata['x-agentmesh-conversation']).toBe('conv-7');
    expect(seen.metadata.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(seen.context).toMatchObject({ conversationId: 'conv-7', callerChain: [ID('caller-1')] });
    expect(Number.isFinite(seen.deadline)).toBe(true);
    expect(seen.deadline).toBeLessThanOrEqual(Date.now() + 10_000);
  });

  it("passes the app's own error status back to the caller", async () => {
    const failure = await caller.mesh.call({ type: 'shouter' }, 'fail', 'x').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MeshError);
    expect((failure as MeshError).code).toBe(Code.INVALID_ARGUMENT);
    expect((failure as MeshError).message).toBe('the app cannot use this payload');
  });

  it('passes a stream through chunk by chunk, each before the app writes the next', async () => {
    const stream = caller.mesh.stream({ type: 'shouter' }, 'count', '3');
    const received: string[] = [];
    app.release();
    for await (const chunk of stream) {
      received.push(chunk.payload.toString());
      // The app wrote exactly this chunk and waits for the test: nothing was held back to be sent together.
      expect(app.written()).toBe(received.length);
      app.release();
    }
    expect(received).toEqual(['chunk 1', 'chunk 2', 'chunk 3']);
  });

  it('refuses a caller the policies deny before the app sees the call', async () => {
    const before = app.calls.length;
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          id: 'no-caller-fail',
          effect: 'deny',
          actions: ['invoke'],
          callers: [ID('caller-1')],
          callerTypes: [],
          targetTypes: ['shouter'],
          methods: ['echo'],
          topics: [],
        },
      ],
    });
    try {
      await until(() => sidecar.agent.cache.policies.rules.length === 1, 'the sidecar has the policies');
      const failure = await caller.mesh
        .call({ type: 'shouter' }, 'echo', 'x')
        .catch((error: unknown) => error);
      expect((failure as MeshError).code).toBe(Code.PERMISSION_DENIED);
      expect(app.calls.length).toBe(before);
    } finally {
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
      await until(() => sidecar.agent.cache.policies.rules.length === 0, 'the sidecar has no policies');
    }
  });

  it("serves the outbound port on a Unix socket (0600) in a directory only the app's user enters (0700)", async () => {
    expect(sidecar.outboundAddress).toBe(`unix:${socketDir}/outbound.sock`);
    expect(sidecar.socketDir).toBe(socketDir);
    expect((await stat(socketDir)).mode & 0o777).toBe(0o700);
    const socket = await lstat(join(socketDir, 'outbound.sock'));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect(socket.uid).toBe(process.getuid!());
  });

  it.skipIf(process.getuid?.() !== 0)(
    'refuses a process of another user: it cannot open the socket, and its call never reaches the callee',
    async () => {
      const path = join(socketDir, 'outbound.sock');
      // The same program, run as this user, reaches the callee as the sidecar's agent: the program works.
      const before = whoamiCalls;
      const own = await runOutboundClient(path);
      expect(own).toContain('connect ok');
      expect(own).toContain(`call ok {"caller":"${ID('shouter-1')}"`);
      expect(whoamiCalls).toBe(before + 1);
      const other = await runOutboundClient(path, NOBODY);
      expect(other).toContain('connect EACCES');
      expect(other).toMatch(/^call UNAVAILABLE .*EACCES/m);
      expect(whoamiCalls).toBe(before + 1);
    },
    60_000,
  );

  it("routes the app's outbound call by its target metadata, as the agent's identity", async () => {
    const answer = await callOut({ 'x-agentmesh-target-type': 'caller' });
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.payload!)).toMatchObject({ caller: ID('shouter-1'), chain: [ID('shouter-1')] });
  });

  it('ignores a caller, chain, deadline, trace, conversation or tenant the app claims, and warns once', async () => {
    const forgedTrace = '0af7651916cd43dd8448eb211c80319c';
    const answer = await callOut({
      'x-agentmesh-target-type': 'caller',
      ...FORGED_HEADERS,
      'x-agentmesh-deadline': '1', // long past: a callee that believed it would refuse the call
      'x-agentmesh-conversation': 'forged-conversation',
      'x-agentmesh-tenant': 'forged-tenant',
      traceparent: `00-${forgedTrace}-b7ad6b7169203331-01`,
    });
    expect(answer.code).toBe(0);
    const seen = JSON.parse(answer.payload!) as WhoAmI;
    expect(seen.caller).toBe(ID('shouter-1'));
    expect(seen.chain).toEqual([ID('shouter-1')]);
    expect(seen.conversationId).toBeUndefined();
    expect(seen.tenant).toBeUndefined();
    expect(seen.traceId).not.toBe(forgedTrace);
    const warnings = log.lines.filter((line) => String(line.msg).includes('mesh-owned metadata'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.ignored).toEqual(
      expect.arrayContaining(['x-agentmesh-caller', 'x-agentmesh-chain', 'x-agentmesh-deadline']),
    );
    await callOut({ 'x-agentmesh-target-type': 'caller', ...FORGED_HEADERS });
    expect(log.lines.filter((line) => String(line.msg).includes('mesh-owned metadata'))).toHaveLength(1);
  });

  it("continues the inbound call's chain, trace, conversation and deadline through its token", async () => {
    const result = await caller.mesh.call({ type: 'shouter' }, 'call-out', 'caller', {
      conversationId: 'conv-9',
      timeoutMs: 3_000,
    });
    const after = Date.now();
    const seen = JSON.parse(result.payload.toString()) as WhoAmI;
    expect(seen).toMatchObject({
      caller: ID('shouter-1'),
      chain: [ID('caller-1'), ID('shouter-1')],
      conversationId: 'conv-9',
      traceId: result.traceId,
    });
    // The caller's 3 s, not the 5 s the app gave its own call: the outbound call cannot outlive the inbound one.
    expect(seen.deadline).toBeLessThanOrEqual(after + 3_000);
  });

  it('keeps a forged caller and chain out of a call the app makes for an inbound one', async () => {
    const result = await caller.mesh.call({ type: 'shouter' }, 'call-out-forged', 'caller');
    const seen = JSON.parse(result.payload.toString()) as WhoAmI;
    expect(seen.caller).toBe(ID('shouter-1'));
    expect(seen.chain).toEqual([ID('caller-1'), ID('shouter-1')]);
  });

  it('refuses a call token that names no call in flight', async () => {
    const answer = await callOut({
      'x-agentmesh-target-type': 'caller',
      'x-agentmesh-call-token': '2c1c6a43-0e0c-4c79-9b8e-6f1a07c2e1d5',
    });
    expect(answer.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(answer.details).toContain('x-agentmesh-call-token');
  });

  it("streams an outbound call's chunks to the app", async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-agentmesh-target-type', 'caller');
    const stream = outbound.InvokeStream(
      { method: 'letters', payload: Buffer.from('abc'), contentType: 'text/plain' },
      metadata,
    );
    const letters: string[] = [];
    for await (const chunk of stream as AsyncIterable<{ payload: Buffer }>)
      letters.push(chunk.payload.toString());
    expect(letters).toEqual(['a', 'b', 'c']);
  });

  it('answers an outbound call without a valid target with INVALID_ARGUMENT, and one no agent serves with UNAVAILABLE', async () => {
    const missing = await callOut({});
    expect(missing.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(missing.details).toContain('x-agentmesh-target-type');
    const malformed = await callOut({ 'x-agentmesh-target-type': 'Not A Type' });
    expect(malformed.code).toBe(grpc.status.INVALID_ARGUMENT);
    const selector = await callOut({
      'x-agentmesh-target-type': 'caller',
      'x-agentmesh-target-selector': 'zone in (',
    });
    expect(selector.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(selector.details).toContain('x-agentmesh-target-selector');
    const nobody = await callOut({ 'x-agentmesh-target-type': 'translator' });
    expect(nobody.code).toBe(grpc.status.UNAVAILABLE);
    expect(nobody.details).toContain('no healthy agent');
  });

  it("reports the app's NOT_SERVING on its mTLS health, so the control plane marks the agent unhealthy and back", async () => {
    const probe = new GrpcHealthProbe(await mesh.identity('prober'));
    const target = { id: 'shouter-1', endpoint: sidecar.agent.address, spiffeId: ID('shouter-1') };
    try {
      expect(await probe.check(target, 2_000)).toBe(true);
      app.health.setStatus('', 'NOT_SERVING');
      await until(async () => !(await probe.check(target, 2_000)), 'the sidecar reports NOT_SERVING');
      await until(
        async () => (await admin.getAgent('shouter-1')).health === 'unhealthy',
        'the control plane marks the agent unhealthy',
      );
      app.health.setStatus('', 'SERVING');
      await until(
        async () => (await admin.getAgent('shouter-1')).health === 'healthy',
        'the control plane marks the agent healthy again',
      );
    } finally {
      app.health.setStatus('', 'SERVING');
      probe.close();
    }
  });

  it('refuses to start when the app does not answer, naming it', async () => {
    const failure = await startSidecar({
      identity: await mesh.identity('shouter-2'),
      controlPlane: mesh.controlPlane.address,
      type: 'shouter',
      app: '127.0.0.1:1',
      startTimeoutMs: 1_000,
    }).catch((error: unknown) => error);
    expect((failure as MeshError).code).toBe(Code.UNAVAILABLE);
    expect((failure as MeshError).message).toContain('the app at 127.0.0.1:1 does not answer grpc.health.v1');
    await expect(admin.getAgent('shouter-2')).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it('refuses an app or outbound address off loopback, and a relative socket path', async () => {
    const identity = await mesh.identity('shouter-3');
    const options = { identity, controlPlane: mesh.controlPlane.address, type: 'shouter' };
    await expect(startSidecar({ ...options, app: '10.1.2.3:50051' })).rejects.toThrow(/not on loopback/);
    await expect(startSidecar({ ...options, app: 'unix:app.sock' })).rejects.toThrow(/unix:\/absolute\/path/);
    await expect(
      startSidecar({ ...options, app: app.address, outboundListen: '0.0.0.0:0', allowTcpOutbound: true }),
    ).rejects.toThrow(/outbound listen address "0.0.0.0:0" is not on loopback/);
  });

  it('serves the outbound port on TCP only when allowed explicitly, warning that any process can use it', async () => {
    const identity = await mesh.identity('shouter-5');
    const options = { identity, controlPlane: mesh.controlPlane.address, type: 'shouter', app: app.address };
    const refusals = [
      [{ outboundListen: '127.0.0.1:0' }, /lets any local process act as this agent.*--allow-tcp-outbound/],
      [{ allowTcpOutbound: true }, /none is given: add --outbound-listen/],
      [{ outboundListen: '127.0.0.1:0', allowTcpOutbound: true, socketDir }, /not both/],
    ] as const;
    for (const [extra, message] of refusals) {
      const failure = await startSidecar({ ...options, ...extra }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MeshError);
      expect((failure as MeshError).code).toBe(Code.INVALID_ARGUMENT);
      expect((failure as MeshError).message).toMatch(message);
    }
    await expect(admin.getAgent('shouter-5')).rejects.toMatchObject({ code: Code.NOT_FOUND });
    const tcpLog = capturedLogger();
    const tcp = await startSidecar({
      ...options,
      outboundListen: '127.0.0.1:0',
      allowTcpOutbound: true,
      logger: tcpLog.logger,
    });
    try {
      expect(tcp.outboundAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(tcp.socketDir).toBeUndefined();
      const warning = tcpLog.lines.find((line) => String(line.msg).includes('the outbound port is on TCP'));
      expect(warning?.msg).toContain(
        'any local process, of any user, can call other agents through it as shouter-5',
      );
    } finally {
      await tcp.stop(0);
    }
  });

  it('retries an event the app cannot take for lack of an EventHandler, then dead-letters it saying so', async () => {
    const dir = join(temp.dir, 'sockets-6');
    await mkdir(dir, { mode: 0o700 });
    // This app serves agentmesh.v1.Agent and health only: a subscription's deliveries find no HandleEvent.
    // A name of its own: the socket-directory test after it checks that its name never registered.
    const subscriber = await startSidecar({
      identity: await mesh.identity('listener-6', ['shouter']),
      controlPlane: mesh.controlPlane.address,
      type: 'shouter',
      app: app.address,
      socketDir: dir,
      subscriptions: [{ pattern: 'alerts.>' }],
      logger: log.logger,
    });
    try {
      await until(
        () => caller.cache.get('listener-6')?.spec.subscriptions.length === 1,
        "the caller sees the sidecar's subscription",
      );
      const report = await caller.publish('alerts.fire', { level: 'high' });
      expect(report.subscriptions).toBe(1);
      await until(
        () =>
          caller.publisher.unclaimedDeadLetters.some(
            (letter) => letter.deadLetter?.originalEventId === report.eventId,
          ),
        'the event is dead-lettered after its attempts',
      );
      const letter = caller.publisher.unclaimedDeadLetters.find(
        (entry) => entry.deadLetter?.originalEventId === report.eventId,
      )!;
      expect(letter.deadLetter!.reason).toMatch(
        /does not serve agentmesh\.v1\.EventHandler: implement HandleEvent/,
      );
      expect(letter.deadLetter!.attempts).toBe(5);
    } finally {
      await subscriber.stop(0);
    }
  });

  it('refuses a socket directory open to others or owned by another user, before registering', async () => {
    const identity = await mesh.identity('shouter-6');
    const options = { identity, controlPlane: mesh.controlPlane.address, type: 'shouter', app: app.address };
    const open = join(temp.dir, 'open');
    await mkdir(open, { mode: 0o700 });
    await chmod(open, 0o750);
    const failure = await startSidecar({ ...options, socketDir: open }).catch((error: unknown) => error);
    expect((failure as MeshError).code).toBe(Code.FAILED_PRECONDITION);
    expect((failure as MeshError).message).toContain(`${open} is open to group or others (mode 0750)`);
    expect((failure as MeshError).message).toContain(`chmod 700 ${open}`);
    if (process.getuid?.() === 0) {
      const theirs = join(temp.dir, 'theirs');
      await mkdir(theirs, { mode: 0o700 });
      await chown(theirs, NOBODY, NOBODY);
      const foreign = await startSidecar({ ...options, socketDir: theirs }).catch((error: unknown) => error);
      expect((foreign as MeshError).code).toBe(Code.FAILED_PRECONDITION);
      expect((foreign as MeshError).message).toContain(
        `${theirs} belongs to uid ${NOBODY}, not to this process's`,
      );
    } else {
      console.warn('skipping the socket directory of another user: it takes root to make one');
    }
    await expect(admin.getAgent('shouter-6')).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it('refuses to start while another sidecar listens on the socket, naming it', async () => {
    const failure = await startSidecar({
      identity: await mesh.identity('shouter-7'),
      controlPlane: mesh.controlPlane.address,
      type: 'shouter',
      app: app.address,
      socketDir,
    }).catch((error: unknown) => error);
    expect((failure as MeshError).code).toBe(Code.FAILED_PRECONDITION);
    expect((failure as MeshError).message).toContain(`another process listens on ${socketDir}/outbound.sock`);
    await expect(admin.getAgent('shouter-7')).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect((await lstat(join(socketDir, 'outbound.sock'))).isSocket()).toBe(true);
  });

  it('replaces a stale socket, makes a missing directory 0700, and removes its socket at stop', async () => {
    const dir = join(temp.dir, 'fresh', 'shouter-8');
    const path = join(dir, 'outbound.sock');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await leaveStaleSocket(path);
    expect((await lstat(path)).isSocket()).toBe(true);
    const second = await startSidecar({
      identity: await mesh.identity('shouter-8'),
      controlPlane: mesh.controlPlane.address,
      type: 'shouter',
      app: app.address,
      socketDir: dir,
    });
    const fresh = join(temp.dir, 'made', 'here');
    const third = await startSidecar({
      identity: await mesh.identity('shouter-9'),
      controlPlane: mesh.controlPlane.address,
      type: 'shouter',
      app: app.address,
      socketDir: fresh,
    });
    try {
      const answer = await new Promise<grpc.ServiceError | null>((resolve) => {
        const client = new (loadMeshProtos().protos.agentmesh.v1.Agent)(
          second.outboundAddress,
          grpc.credentials.createInsecure(),
        );
        const metadata = new grpc.Metadata();
        metadata.set('x-agentmesh-target-type', 'caller');
        client.Invoke({ method: 'whoami', payload: Buffer.alloc(0) }, metadata, (error) => {
          client.close();
          resolve(error);
        });
      });
      expect(answer).toBeNull();
      expect((await stat(join(temp.dir, 'made'))).mode & 0o777).toBe(0o700);
      expect((await stat(fresh)).mode & 0o777).toBe(0o700);
    } finally {
      await second.stop(0);
      await third.stop(0);
    }
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(join(fresh, 'outbound.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

/** Leaves a socket file at `path` that nothing listens on: the one of a process killed while it listened. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('listening'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the listener exited (${code}) before listening`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
