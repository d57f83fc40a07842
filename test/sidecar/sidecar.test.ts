import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code, MeshError } from '../../src/errors.js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import { GrpcHealthProbe } from '../../src/transport/health-probe.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { startSidecar, type RunningSidecar } from '../../src/sidecar/sidecar.js';
import { startPlainAgentApp, type PlainAgentApp, type SeenCall } from '../helpers/plain-agent-app.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;

describe('sidecar', () => {
  let mesh: TestMesh;
  let app: PlainAgentApp;
  let sidecar: RunningSidecar;
  let caller: RunningAgent;
  let admin: ControlPlaneClient;
  let outbound: AgentClient;

  beforeAll(async () => {
    mesh = await startTestMesh({
      healthChecks: {
        intervalMs: 100,
        timeoutMs: 500,
        failureThreshold: 2,
        successThreshold: 1,
        holdDownMs: 100,
      },
    });
    admin = await mesh.client('control-plane');
    app = await startPlainAgentApp();
    sidecar = await startSidecar({
      identity: await mesh.identity('shouter-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'shouter',
      capabilities: ['shout'],
      app: app.address,
      healthIntervalMs: 100,
    });
    app.setOutbound(sidecar.outboundAddress);
    caller = await startAgent({
      identity: await mesh.identity('caller-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'caller',
      methods: {
        whoami: async (_request, call) => ({
          payload: Buffer.from(JSON.stringify({ caller: call.caller.uri, chain: call.context.chain })),
          contentType: 'application/json',
        }),
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
  }, 30_000);

  afterAll(async () => {
    outbound?.close();
    await caller?.drain(0);
    await sidecar?.stop(0);
    await app?.close();
    await mesh?.close();
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

  it("routes the app's outbound call by its target metadata, as the agent's identity", async () => {
    const answer = await callOut({ 'x-agentmesh-target-type': 'caller' });
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.payload!)).toEqual({ caller: ID('shouter-1'), chain: [ID('shouter-1')] });
  });

  it('continues the chain when the app calls out while handling a call', async () => {
    const result = await caller.mesh.call({ type: 'shouter' }, 'call-out', 'caller');
    expect(JSON.parse(result.payload.toString())).toEqual({
      caller: ID('shouter-1'),
      chain: [ID('caller-1'), ID('shouter-1')],
    });
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

  it('refuses an app or outbound address off loopback', async () => {
    const identity = await mesh.identity('shouter-3');
    const options = { identity, controlPlane: mesh.controlPlane.address, type: 'shouter' };
    await expect(startSidecar({ ...options, app: '10.1.2.3:50051' })).rejects.toThrow(/not on loopback/);
    await expect(startSidecar({ ...options, app: app.address, outboundListen: '0.0.0.0:0' })).rejects.toThrow(
      /outbound listen address "0.0.0.0:0" is not on loopback/,
    );
  });
});
