import { execFile } from 'node:child_process';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallReport } from '../../src/control-plane/call-graph.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { startControlPlane } from '../../src/control-plane/control-plane.js';
import type { AgentsView, TopologyView } from '../../src/control-plane/operations-view.js';
import type { ActivityEntry } from '../../src/control-plane/activity.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { ensureCaDir, ensureIdentity } from '../../src/identity/certs-dir.js';
import { silentLogger } from '../../src/observability/logger.js';
import { runEntryPoint, spawnEntryPoint } from '../helpers/run-cli.js';
import { requireSystemBinary } from '../helpers/system-binary.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const promtool = requireSystemBinary('promtool', 'prometheus');

/** GET (or another method) with full control of the headers; resolves with the status and body. */
function get(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

async function getJson<T>(url: string): Promise<T> {
  const response = await get(url);
  expect(response.status, response.body).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(response.body) as T;
}

/** A server-sent event stream, parsed as it arrives. */
function openStream(url: string): {
  events: Array<{ event: string; data: unknown }>;
  status(): number | undefined;
  close(): void;
} {
  const events: Array<{ event: string; data: unknown }> = [];
  let status: number | undefined;
  const request = httpRequest(url, (response) => {
    status = response.statusCode;
    let buffer = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) events.push({ event, data: JSON.parse(data) });
      }
    });
  });
  request.on('error', () => undefined); // closing the stream aborts the request
  request.end();
  return { events, status: () => status, close: () => request.destroy() };
}

/** Runs `promtool check metrics` on an exposition; resolves with its exit code and everything it printed. */
function promtoolCheck(exposition: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(promtool!, ['check', 'metrics'], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(exposition);
  });
}

const callReport = (calleeId: string, extra: Partial<CallReport> = {}): CallReport => ({
  calleeId,
  calleeType: 'search',
  method: 'query',
  calls: 50,
  errors: 0,
  latencyMsSum: 500,
  latencyMsMax: 40,
  lastError: '',
  ...extra,
});

describe('the control plane HTTP endpoint', () => {
  let mesh: TestMesh;
  let url: string;
  const clients = new Map<string, ControlPlaneClient>();

  const register = async (name: string, type: string, extra: Record<string, unknown> = {}) => {
    const client = await mesh.client(name);
    clients.set(name, client);
    await client.register({ type, name, endpoint: '127.0.0.1:7501', ...extra });
    return client;
  };

  beforeAll(async () => {
    mesh = await startTestMesh({ httpListen: '127.0.0.1:0', dashboard: { refreshMs: 100 } });
    url = mesh.controlPlane.httpUrl!;
    await register('planner-1', 'planner', { labels: { zone: 'eu-1' } });
    await register('search-1', 'search', { maxConcurrency: 8 });
    await register('search-2', 'search');
  });

  afterAll(async () => {
    await mesh?.close();
  });

  it('is bound to loopback on the port it was given', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lists agents by type with health, load, identity and the certificate their connection presented', async () => {
    await clients.get('planner-1')!.heartbeat('planner-1', { inFlight: 3, queueDepth: 1 });
    const view = await getJson<AgentsView>(`${url}/api/agents`);
    expect(view.total).toBe(3);
    expect(view.counts).toEqual({ healthy: 3, unhealthy: 0, draining: 0 });
    expect(view.types.map((group) => [group.type, group.agents.map((agent) => agent.id)])).toEqual([
      ['planner', ['planner-1']],
      ['search', ['search-1', 'search-2']],
    ]);
    const planner = view.types[0]!.agents[0]!;
    const identity = await mesh.identity('planner-1');
    expect(planner).toMatchObject({
      spiffeId: 'spiffe://agentmesh.local/agent/planner-1',
      health: 'healthy',
      inFlight: 3,
      queueDepth: 1,
      labels: { zone: 'eu-1' },
      certificateExpiresAt: identity.expiresAt,
    });
    expect(planner.leaseExpiresAt).toBeGreaterThan(Date.now());
    expect(view.types[1]!.agents[0]!.maxConcurrency).toBe(8);
  });

  it('builds who-calls-whom from heartbeat call reports, ignoring malformed ones without failing the heartbeat', async () => {
    const leaseEnd = await clients.get('planner-1')!.heartbeat('planner-1', undefined, false, [
      callReport('search-1', { calls: 40, errors: 0, latencyMsSum: 400, latencyMsMax: 25 }),
      callReport('search-2', {
        calls: 20,
        errors: 5,
        latencyMsSum: 1_000,
        latencyMsMax: 300,
        lastError: 'UNAVAILABLE: connection refused',
      }),
      callReport('not a valid id!'),
      callReport('search-1', { latencyMsSum: -1 }),
    ]);
    expect(leaseEnd).toBeGreaterThan(Date.now());
    // More reports than a heartbeat may carry: the first 256 count, the heartbeat still succeeds.
    const many = Array.from({ length: 300 }, () =>
      callReport('search-1', { calls: 1, latencyMsSum: 1, latencyMsMax: 1 }),
    );
    expect(await clients.get('search-2')!.heartbeat('search-2', undefined, false, many)).toBeGreaterThan(
      Date.now(),
    );

    const topology = await getJson<TopologyView>(`${url}/api/topology`);
    expect(topology.windowSeconds).toBe(60);
    expect(topology.types.map((node) => [node.type, node.agents])).toEqual([
      ['planner', 1],
      ['search', 2],
    ]);
    const byType = Object.fromEntries(topology.typeEdges.map((edge) => [`${edge.from}→${edge.to}`, edge]));
    expect(byType['planner→search']).toMatchObject({
      calls: 60,
      errors: 5,
      errorRatio: 5 / 60,
      latencyMsMean: 1_400 / 60,
      latencyMsMax: 300,
      lastError: 'UNAVAILABLE: connection refused',
      methods: ['query'],
    });
    expect(byType['planner→search']!.ratePerSecond).toBeGreaterThan(0);
    expect(byType['search→search']).toMatchObject({ calls: 256 });
    const byAgent = topology.agentEdges.map((edge) => [edge.from, edge.to, edge.calls]);
    expect(byAgent).toEqual([
      ['search-2', 'search-1', 256],
      ['planner-1', 'search-1', 40],
      ['planner-1', 'search-2', 20],
    ]);

    const activity = await getJson<ActivityEntry[]>(`${url}/api/activity`);
    expect(activity[0]).toMatchObject({
      kind: 'call-failures',
      severity: 'error',
      message: 'planner-1 → search-2 query: 5 of 20 calls failed (UNAVAILABLE: connection refused)',
    });
    expect(activity.map((entry) => entry.message)).toContain('search-1 (search) joined at 127.0.0.1:7501');
    expect((await getJson<ActivityEntry[]>(`${url}/api/activity?limit=2`)).length).toBe(2);
  });

  it('serves Prometheus metrics in its own registry, in a form promtool accepts', async () => {
    const watcher = await mesh.client('watcher');
    const watch = watcher.watch(0, () => undefined);
    const scrape = async () => {
      const response = await get(`${url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      return response.body;
    };
    await until(
      async () => (await scrape()).includes('agentmesh_control_plane_watch_clients 1'),
      'the watch is counted',
    );
    const body = await scrape();
    const identity = mesh.controlPlane.identity;
    for (const line of [
      'agentmesh_control_plane_agents{type="planner",health="healthy"} 1',
      'agentmesh_control_plane_agents{type="search",health="healthy"} 2',
      'agentmesh_control_plane_agents{type="search",health="draining"} 0',
      'agentmesh_control_plane_registrations_total 3',
      'agentmesh_control_plane_deregistrations_total 0',
      'agentmesh_control_plane_heartbeats_total 3',
      'agentmesh_control_plane_call_reports_total{result="accepted"} 258',
      'agentmesh_control_plane_call_reports_total{result="rejected"} 46',
      'agentmesh_control_plane_certificates_issued_total{kind="renewal"} 0',
      'agentmesh_control_plane_rpcs_total{method="Register",code="OK"} 3',
      'agentmesh_control_plane_rpcs_total{method="Heartbeat",code="OK"} 3',
      'agentmesh_control_plane_health_check_leader 0',
      `agentmesh_control_plane_certificate_expiry_timestamp_seconds ${identity.expiresAt / 1_000}`,
      '# TYPE agentmesh_control_plane_rpc_duration_seconds histogram',
      '# TYPE process_cpu_seconds_total counter',
    ]) {
      expect(body).toContain(line);
    }
    // Agent ids are never label values: the series count stays bounded by types, health states and methods.
    expect(body).not.toMatch(/planner-1|search-1/);
    watch.cancel();
    await until(
      async () => (await scrape()).includes('agentmesh_control_plane_watch_clients 0'),
      'the watch ends',
    );
    expect(await scrape()).toContain('agentmesh_control_plane_rpcs_total{method="Watch",code="CANCELLED"} 1');

    if (!promtool) {
      console.warn('skipping the promtool check: promtool is not on PATH (Debian package prometheus)');
      return;
    }
    const check = await promtoolCheck(await scrape());
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
  });

  it('pushes registry changes and activity to live streams as they happen', async () => {
    const stream = openStream(`${url}/api/stream`);
    try {
      const latest = (event: string) =>
        [...stream.events].reverse().find((item) => item.event === event)?.data;
      await until(() => latest('agents') !== undefined, 'the first agents event');
      expect(stream.events.map((item) => item.event).slice(0, 4)).toEqual([
        'info',
        'agents',
        'topology',
        'activity',
      ]);
      expect(latest('info')).toMatchObject({
        spiffeId: 'spiffe://agentmesh.local/control-plane',
        store: 'memory',
      });
      const ids = () =>
        ((latest('agents') as AgentsView | undefined)?.types ?? []).flatMap((group) =>
          group.agents.map((a) => a.id),
        );

      const client = await register('search-3', 'search');
      await until(() => ids().includes('search-3'), 'the stream shows search-3');
      await client.heartbeat('search-3', undefined, true);
      await until(
        () =>
          (latest('agents') as AgentsView).types.some((group) =>
            group.agents.some((agent) => agent.id === 'search-3' && agent.health === 'draining'),
          ),
        'the stream shows search-3 draining',
      );
      await client.deregister('search-3');
      await until(() => !ids().includes('search-3'), 'the stream drops search-3');
      await until(
        () =>
          ((latest('activity') as ActivityEntry[])[0]?.message ?? '') ===
          'search-3 (search) left: deregistered',
        'the stream tells that search-3 left',
      );
      // The topology comes again on its own schedule (its rates change without registry changes).
      const topologies = stream.events.filter((item) => item.event === 'topology').length;
      await until(
        () => stream.events.filter((item) => item.event === 'topology').length > topologies,
        'a refresh',
      );
    } finally {
      stream.close();
    }
  });

  it('refuses live streams beyond its limit with 503, and keeps serving the others', async () => {
    const streams = Array.from({ length: 32 }, () => openStream(`${url}/api/stream`));
    try {
      await until(
        () => streams.every((stream) => stream.events.length >= 4),
        'every stream got its first events',
      );
      const refused = await get(`${url}/api/stream`);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatch(/too many dashboard streams open \(32\)/);
      expect((await get(`${url}/api/agents`)).status).toBe(200);
    } finally {
      for (const stream of streams) stream.close();
    }
    // Closed streams free their places.
    await until(async () => {
      const stream = openStream(`${url}/api/stream`);
      try {
        await until(() => stream.status() !== undefined, 'an answer');
        return stream.status() === 200;
      } finally {
        stream.close();
      }
    }, 'a new stream is accepted');
  });

  it('serves the page and its files, with a policy that allows nothing from elsewhere', async () => {
    const page = await get(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.body).toContain('<script src="/dashboard.js"');
    for (const [path, type] of [
      ['/dashboard.js', /^text\/javascript/],
      ['/dashboard.css', /^text\/css/],
      ['/favicon.svg', /^image\/svg\+xml/],
    ] as const) {
      const asset = await get(`${url}${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers['content-type']).toMatch(type);
    }
  });

  it('answers only GET and HEAD on known paths, and only requests addressed to a loopback name', async () => {
    expect((await get(`${url}/api/agents`, { method: 'POST' })).status).toBe(405);
    expect((await get(`${url}/api/nothing`)).status).toBe(404);
    const head = await get(`${url}/api/stream`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/event-stream');
    // A page on another site that points its own name at 127.0.0.1 (DNS rebinding) gets nothing.
    const rebound = await get(`${url}/api/agents`, { headers: { host: 'attacker.example:80' } });
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('planner-1');
    const byName = await get(`${url}/api/agents`, { headers: { host: `localhost:${new URL(url).port}` } });
    expect(byName.status).toBe(200);
  });

  it('never serves key material', async () => {
    for (const path of ['/api/info', '/api/agents', '/api/topology', '/api/activity', '/metrics', '/']) {
      expect((await get(`${url}${path}`)).body, path).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    }
  });
});

describe('starting a control plane with an HTTP endpoint', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    temp = await makeTempDir();
    await ensureCaDir(temp.dir, 'agentmesh.local');
    await ensureIdentity(temp.dir, 'control-plane');
  });

  afterAll(async () => {
    await temp?.remove();
  });

  const start = (httpListen: string) =>
    startControlPlane({
      certsDir: temp.dir,
      listen: '127.0.0.1:0',
      httpListen,
      healthChecks: false,
      store: new MemoryStore(),
      logger: silentLogger(),
    });

  it('refuses a malformed address before binding anything', async () => {
    const error = (await start('nowhere').catch((e: unknown) => e)) as MeshError;
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message).toBe('invalid HTTP listen address "nowhere": use host:port, e.g. 127.0.0.1:9464');
  });

  it('fails clearly when the HTTP port is taken, and closes what it opened', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const error = (await start(`127.0.0.1:${port}`).catch((e: unknown) => e)) as MeshError;
      expect(error.code).toBe(Code.UNAVAILABLE);
      expect(error.message).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    // The same certificates and a free port: nothing was left behind in the way.
    const running = await start('127.0.0.1:0');
    expect(running.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await running.close(0);
  });

  it('serves nothing over HTTP unless asked', async () => {
    const running = await startControlPlane({
      certsDir: temp.dir,
      listen: '127.0.0.1:0',
      healthChecks: false,
      store: new MemoryStore(),
      logger: silentLogger(),
    });
    expect(running.httpUrl).toBeUndefined();
    expect(await running.metrics.metrics()).toContain('agentmesh_control_plane_agents');
    await running.close(0);
  });

  it('`agent-mesh control-plane --http-listen` prints the dashboard URL, and refuses a malformed address', async () => {
    const refused = await runEntryPoint('agent-mesh', ['control-plane', '--http-listen', 'localhost']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /option '--http-listen <host:port>' argument 'localhost' is invalid\. invalid HTTP listen address "localhost"/,
    );
    const controlPlane = spawnEntryPoint([
      'control-plane',
      '--certs',
      temp.dir,
      '--listen',
      '127.0.0.1:0',
      '--http-listen',
      '127.0.0.1:0',
      '--log-level',
      'warn',
    ]);
    try {
      const [, dashboard] = await controlPlane.waitFor(
        /dashboard at (http:\/\/127\.0\.0\.1:\d+)\/, metrics at/,
      );
      const metrics = await get(`${dashboard}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('agentmesh_control_plane_watch_clients 0');
    } finally {
      expect(await controlPlane.stop()).toBe(0);
    }
  });
});
