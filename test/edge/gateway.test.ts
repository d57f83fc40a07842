import { readFile, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { Code, MeshError } from '../../src/core/errors.js';
import type { RunningGateway } from '../../src/edge/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { GATEWAY_TOKENS_FILE, GatewayTokens } from '../../src/edge/gateway-tokens.js';
import { runEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};

/** Who may come in through the gateway: bearer tokens an administrator issued, nothing else unless configured. */
describe('the gateway: authentication at the edge', () => {
  let mesh: TestMesh;
  let gateway: RunningGateway;
  let tokens: GatewayTokens;

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    mesh = await startTestMesh();
    await mesh.identity('partner', ['cli']);
    await mesh.identity('other', ['cli']);
    tokens = new GatewayTokens(mesh.certsDir);
    gateway = await startTestGateway(mesh);
  });

  afterAll(async () => {
    await gateway?.close();
    await mesh?.close();
  });

  it('answers a request without a token, or with a bad one, with 401', async () => {
    for (const headers of <Array<Record<string, string>>>[
      {},
      { authorization: 'Bearer nonsense' },
      { authorization: `Bearer amg_000000000000_${'a'.repeat(43)}` },
      { authorization: 'Basic dXNlcjpwYXNz' },
    ]) {
      const response = await post('/mcp', INITIALIZE, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="agent-mesh"');
      expect(((await response.json()) as { error: string }).error).toMatch(/Authorization: Bearer <token>/);
    }
    for (const path of ['/a2a', '/a2a/summarizer/.well-known/agent-card.json', '/elsewhere']) {
      expect((await fetch(`${gateway.url}${path}`)).status).toBe(401);
    }
  });

  it('keeps only hashes, in a 0600 file, and refuses a token once revoked or expired', async () => {
    const { token, stored } = await tokens.create('partner', { note: 'partner team' });
    const file = join(mesh.certsDir, GATEWAY_TOKENS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(token.split('_')[2]);

    const auth = { authorization: `Bearer ${token}` };
    expect((await post('/mcp', INITIALIZE, auth)).status).toBe(200);
    expect(await tokens.revoke(stored.id)).toBe(true);
    expect((await post('/mcp', INITIALIZE, auth)).status).toBe(401);

    let now = Date.now();
    const clocked = new GatewayTokens(mesh.certsDir, () => now);
    const expiring = await clocked.create('partner', { ttlMs: 60_000 });
    expect((await clocked.verify(expiring.token)).ok).toBe(true);
    now += 60_000;
    expect(await clocked.verify(expiring.token)).toEqual({
      ok: false,
      why: expect.stringMatching(/expired at/),
    });
  });

  it("does not let one client use another's MCP session", async () => {
    const mine = (await tokens.create('partner')).token;
    const theirs = (await tokens.create('other')).token;
    const opened = await post('/mcp', INITIALIZE, { authorization: `Bearer ${mine}` });
    const session = opened.headers.get('mcp-session-id')!;
    expect(session).toBeTruthy();
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const response = await post('/mcp', list, {
      authorization: `Bearer ${theirs}`,
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-11-25',
    });
    expect(response.status).toBe(404);
  });

  it('refuses malformed and oversized bodies with JSON-RPC errors and keeps serving', async () => {
    const auth = { authorization: `Bearer ${(await tokens.create('partner')).token}` };
    const malformed = await post('/mcp', '{"jsonrpc":', auth);
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const huge = await post('/mcp', JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }), auth);
    expect(huge.status).toBe(413);
    expect((await post('/mcp', INITIALIZE, auth)).status).toBe(200);
  });

  it('answers only requests addressed to localhost when bound to loopback', async () => {
    // fetch() sets Host itself: a raw request says what a rebinding page's browser would.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const [host, port] = gateway.address.split(':');
      const request = httpRequest({
        host,
        port: Number(port),
        path: '/healthz',
        headers: { host: 'evil.example' },
      });
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode);
      });
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(403);
  });

  it('allows anonymous access only when configured, and only on loopback', async () => {
    const error = await startTestGateway(mesh, { listen: '0.0.0.0:0', anonymous: 'partner' }).then(
      () => undefined,
      (caught: unknown) => caught as MeshError,
    );
    expect(error).toBeInstanceOf(MeshError);
    expect(error!.code).toBe(Code.INVALID_ARGUMENT);
    expect(error!.message).toMatch(/only on a loopback address/);

    const open = await startTestGateway(mesh, { anonymous: 'partner' });
    try {
      const response = await fetch(`${open.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(INITIALIZE),
      });
      expect(response.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

/** The policies of the identity a token maps to are those of its client: here, a rate limit for one of two clients. */
describe('the gateway: each outside client under its own identity', () => {
  let mesh: TestMesh;
  let gateway: RunningGateway;
  let agent: RunningAgent;
  const clients: Client[] = [];

  const connect = async (identity: string) => {
    const { token } = await new GatewayTokens(mesh.certsDir).create(identity);
    const client = new Client({ name: identity, version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    mesh = await startTestMesh();
    const admin = await mesh.client('control-plane');
    // One call per 1,000 s for partner-a: its second call is refused, whatever the machine's speed.
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [],
      rateLimits: [
        {
          id: 'partner-a-sparingly',
          callers: ['spiffe://agentmesh.local/agent/partner-a'],
          callerTypes: [],
          targetTypes: [],
          methods: [],
          requestsPerSecond: 0.001,
          burst: 1,
          tokensPerMinute: 0,
        },
      ],
    });
    agent = await startAgent({
      identity: await mesh.identity('oracle-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'oracle',
      skills: [
        {
          id: 'answer',
          handler: async () => ({ payload: Buffer.from('{"answer": 42}'), contentType: 'application/json' }),
        },
      ],
    });
    await until(
      () => (agent.cache.policies.rateLimits ?? []).length === 1,
      'the agent has the rate limit',
      10_000,
    );
    for (const name of ['partner-a', 'partner-b']) await mesh.identity(name, ['cli']);
    gateway = await startTestGateway(mesh);
  });

  afterAll(async () => {
    for (const client of clients) await client.close();
    await gateway?.close();
    await agent?.drain(0);
    await mesh?.close();
  });

  it("applies a client's rate limit to that client only", async () => {
    const a = await connect('partner-a');
    const b = await connect('partner-b');
    await until(async () => (await a.listTools()).tools.length === 1, 'the tool is listed', 10_000);
    expect((await a.callTool({ name: 'answer', arguments: {} })).isError).toBeFalsy();
    const refused = await a.callTool({ name: 'answer', arguments: {} });
    expect(refused.isError).toBe(true);
    expect(refused.content).toEqual([{ type: 'text', text: expect.stringMatching(/^RESOURCE_EXHAUSTED: /) }]);
    for (let i = 0; i < 3; i += 1)
      expect((await b.callTool({ name: 'answer', arguments: {} })).isError).toBeFalsy();
  });
});

/** `agent-mesh gateway token ...` and the gateway's flags, as a user types them. */
describe('agent-mesh gateway (CLI)', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    mesh = await startTestMesh();
    await mesh.identity('partner', ['cli']);
    await mesh.identity('gateway', []);
  });

  afterAll(async () => {
    await mesh?.close();
  });

  it('creates, lists and revokes tokens', async () => {
    const before = Date.now();
    const created = await runEntryPoint('agent-mesh', [
      'gateway',
      'token',
      'create',
      'partner',
      '--ttl',
      '30d',
      '--note',
      'partner team',
      '--certs',
      mesh.certsDir,
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^amg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n$/);
    const id = created.stdout.split('_')[1]!;
    expect(created.stderr).toContain(`token ${id} acts as partner, valid until`);
    const listed = await runEntryPoint('agent-mesh', ['gateway', 'token', 'list', '--certs', mesh.certsDir]);
    const row = new RegExp(`${id}\\s+partner\\s+\\S+\\s+(\\S+)\\s+partner team`).exec(listed.stdout);
    const expiresAt = Date.parse(row![1]!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    expect(listed.stdout).not.toContain(created.stdout.trim());
    const revoked = await runEntryPoint('agent-mesh', [
      'gateway',
      'token',
      'revoke',
      id,
      '--certs',
      mesh.certsDir,
    ]);
    expect(revoked).toMatchObject({ code: 0, stdout: `token ${id} revoked\n` });
    const again = await runEntryPoint('agent-mesh', [
      'gateway',
      'token',
      'revoke',
      id,
      '--certs',
      mesh.certsDir,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no token ${id}`);
  });

  it('refuses bad input with the reason and exit 2 (usage) or 1 (failure)', async () => {
    const noIdentity = await runEntryPoint('agent-mesh', [
      'gateway',
      'token',
      'create',
      'nobody',
      '--certs',
      mesh.certsDir,
    ]);
    expect(noIdentity.code).toBe(1);
    expect(noIdentity.stderr).toMatch(/nobody.*the gateway calls the mesh with that identity's certificate/s);
    const badTtl = await runEntryPoint('agent-mesh', [
      'gateway',
      'token',
      'create',
      'partner',
      '--ttl',
      'soon',
    ]);
    expect(badTtl.code).toBe(2);
    const badListen = await runEntryPoint('agent-mesh', ['gateway', '--listen', 'nowhere']);
    expect(badListen.code).toBe(2);
    expect(badListen.stderr).toContain('invalid HTTP listen address');
    const anonymousOpen = await runEntryPoint('agent-mesh', [
      'gateway',
      '--listen',
      '0.0.0.0:0',
      '--allow-anonymous',
      'partner',
      '--certs',
      mesh.certsDir,
      '--control-plane',
      mesh.controlPlane.address,
    ]);
    expect(anonymousOpen.code).toBe(1);
    expect(anonymousOpen.stderr).toContain('anonymous access is allowed only on a loopback address');
  });
});
