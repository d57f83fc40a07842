import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { requireSystemBinary } from '../helpers/system-binary.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** A sample line's value, e.g. `agentmesh_client_calls_total{...,code="OK"} 3`, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

/** The Prometheus metrics of agents (prom-client) after real calls and events over mTLS, scraped over HTTP. */
describe('agent metrics', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let caller: RunningAgent;
  let worker: RunningAgent;
  let failures = 0;

  beforeAll(async () => {
    mesh = await startTestMesh();
    const start = async (name: string, type: string, extra: Partial<Parameters<typeof startAgent>[0]>) => {
      const agent = await startAgent({
        identity: await mesh.identity(name),
        controlPlane: mesh.controlPlane.address,
        type,
        metricsListen: '127.0.0.1:0',
        ...extra,
      });
      agents.push(agent);
      return agent;
    };
    worker = await start('worker-1', 'worker', {
      methods: {
        work: async (request) => request,
        flaky: async () => {
          failures += 1;
          throw new MeshError(Code.FAILED_PRECONDITION, 'not today');
        },
      },
      subscriptions: [{ pattern: 'jobs.*', handler: () => undefined }],
    });
    caller = await start('caller-1', 'caller', {});
    await until(() => knows(caller, 'worker-1'), 'worker known', 10_000);
    for (let i = 0; i < 5; i += 1) await caller.mesh.call({ type: 'worker' }, 'work', { i });
    await expect(caller.mesh.call({ type: 'worker' }, 'flaky', {})).rejects.toThrow(/not today/);
    await expect(caller.mesh.call({ type: 'worker' }, 'no-such-method', {})).rejects.toThrow(
      /unknown method/,
    );
    for (let i = 0; i < 3; i += 1) await caller.publish('jobs.created', { i });
    await caller.publisher.flush(10_000);
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  const scrape = async (agent: RunningAgent) => {
    const response = await fetch(`${agent.metricsServer!.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return response.text();
  };

  it('counts calls by caller type, callee type, method and code on both ends, with latency histograms', async () => {
    const client = await scrape(caller);
    const labels = { caller_type: 'caller', callee_type: 'worker' };
    expect(sample(client, 'agentmesh_client_calls_total', { ...labels, method: 'work', code: 'OK' })).toBe(5);
    expect(
      sample(client, 'agentmesh_client_calls_total', {
        ...labels,
        method: 'flaky',
        code: 'FAILED_PRECONDITION',
      }),
    ).toBe(1);
    expect(
      sample(client, 'agentmesh_client_call_duration_seconds_count', { ...labels, method: 'work' }),
    ).toBe(5);
    expect(
      sample(client, 'agentmesh_client_call_duration_seconds_bucket', {
        ...labels,
        method: 'work',
        le: '+Inf',
      }),
    ).toBe(5);

    const server = await scrape(worker);
    expect(sample(server, 'agentmesh_server_calls_total', { ...labels, method: 'work', code: 'OK' })).toBe(5);
    expect(sample(server, 'agentmesh_server_calls_total', { ...labels, method: 'flaky' })).toBe(failures);
    // A method the agent does not serve is counted without its name: callers cannot make up label values.
    expect(sample(server, 'agentmesh_server_calls_total', { method: 'unknown', code: 'UNIMPLEMENTED' })).toBe(
      1,
    );
    expect(server).not.toContain('no-such-method');
    expect(
      sample(server, 'agentmesh_server_call_duration_seconds_count', { ...labels, method: 'work' }),
    ).toBe(5);
  });

  it('reports pub/sub counts, certificate expiry and process metrics', async () => {
    const client = await scrape(caller);
    expect(sample(client, 'agentmesh_events_published_total', { publisher_type: 'caller' })).toBe(3);
    expect(
      sample(client, 'agentmesh_event_deliveries_total', { publisher_type: 'caller', outcome: 'delivered' }),
    ).toBe(3);
    const expiry = sample(client, 'agentmesh_certificate_expiry_timestamp_seconds', { agent: 'caller-1' });
    expect(expiry).toBe(Math.floor(caller.identity.expiresAt / 1000));
    expect(client).toMatch(/^process_cpu_seconds_total /m);
    const server = await scrape(worker);
    expect(
      sample(server, 'agentmesh_events_handled_total', { subscriber_type: 'worker', outcome: 'ack' }),
    ).toBe(3);
  });

  it('passes promtool check metrics', async () => {
    const promtool = requireSystemBinary('promtool', 'prometheus');
    if (!promtool) return;
    for (const agent of [caller, worker]) {
      const text = await scrape(agent);
      const check = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
      expect(check.status).toBe(0);
    }
  });

  it('answers 404 for other paths and refuses a bad listen address at start', async () => {
    expect((await fetch(`${caller.metricsServer!.url}/nope`)).status).toBe(404);
    await expect(
      startAgent({
        identity: await mesh.identity('bad-1'),
        controlPlane: mesh.controlPlane.address,
        type: 'bad',
        metricsListen: 'localhost',
      }),
    ).rejects.toThrow(/invalid HTTP listen address "localhost"/);
  });
});
