import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import type { PolicyRule } from '../../src/core/policy.js';
import { silentLogger } from '../../src/observability/logger.js';
import { freePort } from '../helpers/ports.js';
import { runEntryPoint, spawnEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;

describe('`agent-mesh agents` and `agent-mesh call`', () => {
  let mesh: TestMesh;
  let admin: ControlPlaneClient;
  const agents: RunningAgent[] = [];
  let releaseHung: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => (releaseHung = resolve));
  let releaseWords: () => void = () => undefined;
  const wordsReleased = new Promise<void>((resolve) => (releaseWords = resolve));
  let flags: string[];
  const cli = (...args: string[]) => runEntryPoint('agent-mesh', [...args, ...flags]);

  beforeAll(async () => {
    mesh = await startTestMesh();
    await mesh.identity('cli');
    flags = ['--certs', mesh.certsDir, '--name', 'cli', '--control-plane', mesh.controlPlane.address];
    admin = await mesh.client('control-plane');
    const echo = async (name: string, zone: string, capabilities: string[]) =>
      startAgent({
        identity: await mesh.identity(name, ['echo']),
        controlPlane: mesh.controlPlane.address,
        type: 'echo',
        capabilities,
        labels: { zone },
        description: `echoes in ${zone}`,
        methods: {
          echo: async (request) => request,
          whoami: async () => ({ payload: Buffer.from(`${name}\n`), contentType: 'text/plain' }),
          // Answers only when the test lets it: a call to it can end only by its deadline.
          hang: async () => {
            await hung;
            return { payload: Buffer.from('late'), contentType: 'text/plain' };
          },
        },
        streams: {
          // The second chunk comes only when the test lets it: the first must be printed before then.
          words: async function* () {
            yield { payload: Buffer.from('first '), contentType: 'text/plain' };
            await wordsReleased;
            yield { payload: Buffer.from('second'), contentType: 'text/plain' };
          },
          records: async function* () {
            for (const n of [1, 2])
              yield { payload: Buffer.from(`{ "n": ${n} }`), contentType: 'application/json' };
          },
        },
        subscriptions:
          zone === 'eu-1'
            ? [{ pattern: 'orders.>', group: 'mailers', handler: () => undefined, maxInFlight: 8 }]
            : [],
        logger: silentLogger(),
      });
    agents.push(await echo('echo-eu', 'eu-1', ['echo', 'json']));
    agents.push(await echo('echo-us', 'us-1', ['echo']));
    // A draining agent with load: registered, no longer discovered by callers, still listed for operators.
    const lagging = await mesh.agentServer('lagging', ['batch']);
    const laggingClient = await mesh.client('lagging', ['batch']);
    await laggingClient.register(
      { type: 'batch', name: 'lagging', endpoint: lagging.server.address },
      300_000,
    );
    await laggingClient.heartbeat('lagging', { inFlight: 3, queueDepth: 1 }, true);
  });

  afterAll(async () => {
    releaseHung();
    releaseWords();
    await Promise.all(agents.map((agent) => agent.drain(1_000)));
    await mesh?.close();
  });

  it('explains each command with --help', async () => {
    const [list, show, call] = await Promise.all([
      runEntryPoint('agent-mesh', ['agents', 'list', '--help']),
      runEntryPoint('agent-mesh', ['agents', 'show', '--help']),
      runEntryPoint('agent-mesh', ['call', '--help']),
    ]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/Usage: agent-mesh agents list \[options\]/);
    for (const option of ['--type', '--capability', '--selector', '--json', '--certs', '--control-plane']) {
      expect(list.stdout).toContain(option);
    }
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/Usage: agent-mesh agents show \[options\] <id>/);
    expect(show.stdout).toContain('--json');
    expect(call.code).toBe(0);
    expect(call.stdout).toMatch(/Usage: agent-mesh call \[options\] <type> <method> <json>/);
    for (const option of ['--selector', '--timeout <duration>', '(default: 10s)', '--raw', '--name']) {
      expect(call.stdout).toContain(option);
    }
  }, 60_000);

  it('lists every registered agent, draining ones included, as an aligned table', async () => {
    const result = await cli('agents', 'list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+TYPE\s+HEALTH\s+ENDPOINT\s+IN-FLIGHT\s+EXPIRES\s+SPIFFE ID$/);
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual(['echo-eu', 'echo-us', 'lagging']);
    const spiffeColumn = header!.indexOf('SPIFFE ID');
    for (const row of rows) expect(row.indexOf('spiffe://')).toBe(spiffeColumn);
    const lagging = rows[2]!.split(/\s{2,}/);
    expect(lagging).toEqual([
      'lagging',
      'batch',
      'draining',
      expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      '3',
      expect.stringMatching(/^in \d+m\d\ds$/),
      ID('lagging'),
    ]);
    expect(rows[0]).toMatch(/^echo-eu\s+echo\s+healthy\s+127\.0\.0\.1:\d+\s+\d+\s+in \d+s\s+spiffe:/);
  }, 60_000);

  it('prints the agents as one JSON array with stable field names', async () => {
    const result = await cli('agents', 'list', '--json');
    expect(result.code).toBe(0);
    const documents = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    expect(documents.map((d) => d.id)).toEqual(['echo-eu', 'echo-us', 'lagging']);
    expect(Object.keys(documents[0]!).sort()).toEqual(
      [
        'health',
        'id',
        'leaseExpiresAt',
        'leaseTtlMs',
        'load',
        'registeredAt',
        'revision',
        'spec',
        'spiffeId',
      ].sort(),
    );
    expect(documents[0]).toMatchObject({
      id: 'echo-eu',
      spiffeId: ID('echo-eu'),
      health: 'healthy',
      spec: {
        type: 'echo',
        name: 'echo-eu',
        endpoint: agents[0]!.address,
        capabilities: ['echo', 'json'],
        labels: { zone: 'eu-1' },
        description: 'echoes in eu-1',
        subscriptions: [{ pattern: 'orders.>', group: 'mailers', maxInFlight: 8 }],
      },
      load: { inFlight: expect.any(Number), queueDepth: expect.any(Number) },
      leaseTtlMs: 15_000,
    });
    expect(new Date(documents[0]!.leaseExpiresAt as string).toISOString()).toBe(documents[0]!.leaseExpiresAt);
    expect(documents[2]).toMatchObject({ health: 'draining', load: { inFlight: 3, queueDepth: 1 } });
  }, 60_000);

  it('takes several control-plane replicas and uses one that answers; a malformed list is a usage error', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const base = ['agents', 'list', '--certs', mesh.certsDir, '--name', 'cli', '--type', 'echo'];
    const listed = await runEntryPoint('agent-mesh', [
      ...base,
      '--control-plane',
      `${dead},${mesh.controlPlane.address}`,
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/echo-eu/);
    const malformed = await runEntryPoint('agent-mesh', [...base, '--control-plane', `${dead},,${dead}`]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/has an empty entry: separate replicas with single commas/);
  });

  it('filters by type, capability and label selector', async () => {
    const ids = (stdout: string) => (JSON.parse(stdout) as Array<{ id: string }>).map((d) => d.id);
    const [byType, byCapability, bySelector, both, none, badSelector] = await Promise.all([
      cli('agents', 'list', '--json', '--type', 'echo'),
      cli('agents', 'list', '--json', '--capability', 'json'),
      cli('agents', 'list', '--json', '--selector', 'zone in (us-1,ap-1)'),
      cli('agents', 'list', '--json', '--type', 'echo', '--capability', 'echo', '--selector', 'zone!=us-1'),
      cli('agents', 'list', '--type', 'nosuch'),
      cli('agents', 'list', '--selector', 'zone in (eu-1'),
    ]);
    expect(ids(byType.stdout)).toEqual(['echo-eu', 'echo-us']);
    expect(ids(byCapability.stdout)).toEqual(['echo-eu']);
    expect(ids(bySelector.stdout)).toEqual(['echo-us']);
    expect(ids(both.stdout)).toEqual(['echo-eu']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('no registered agent matches\n');
    expect(badSelector.code).toBe(2);
    expect(badSelector.stderr).toMatch(/--selector.*invalid label selector "zone in \(eu-1"/);
  }, 120_000); // six processes, each starting Node.js and TypeScript

  it("shows one agent's full record, as text or JSON", async () => {
    const [text, json, list] = await Promise.all([
      cli('agents', 'show', 'echo-eu'),
      cli('agents', 'show', 'echo-eu', '--json'),
      cli('agents', 'list', '--json', '--type', 'echo'),
    ]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ID:\s+echo-eu$/m);
    expect(text.stdout).toMatch(/^SPIFFE ID:\s+spiffe:\/\/agentmesh.local\/agent\/echo-eu$/m);
    expect(text.stdout).toMatch(/^Health:\s+healthy$/m);
    expect(text.stdout).toMatch(/^Capabilities:\s+echo\n\s+json$/m);
    expect(text.stdout).toMatch(/^Labels:\s+zone=eu-1$/m);
    expect(text.stdout).toMatch(/^Subscriptions:\s+orders.> \(group mailers\), max in flight 8$/m);
    expect(text.stdout).toMatch(/^Load:\s+\d+ in flight, \d+ queued$/m);
    expect(text.stdout).toMatch(/^Lease:\s+expires \S+Z \(in \d+s\), TTL 15s$/m);
    expect(json.code).toBe(0);
    const record = JSON.parse(json.stdout) as Record<string, unknown>;
    const listed = (JSON.parse(list.stdout) as Array<Record<string, unknown>>)[0]!;
    // The same document as in the list (the lease may have been renewed in between).
    expect({ ...record, leaseExpiresAt: '', revision: 0 }).toEqual({
      ...listed,
      leaseExpiresAt: '',
      revision: 0,
    });
  }, 60_000);

  it('names the id when no such agent is registered', async () => {
    const result = await cli('agents', 'show', 'ghost');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^agent-mesh: no agent "ghost" is registered with the control plane at 127\.0\.0\.1:\d+ \(`agent-mesh agents list`/,
    );
  }, 60_000);

  it('calls an agent by type and prints the answer: JSON pretty, text as text, --raw as received', async () => {
    const body = '{"text":"hello","n":[1,2]}';
    const [pretty, raw, text] = await Promise.all([
      cli('call', 'echo', 'echo', body, '--selector', 'zone=eu-1'),
      cli('call', 'echo', 'echo', body, '--raw'),
      cli('call', 'echo', 'whoami', '{}', '--selector', 'zone=us-1', '--timeout', '30s'),
    ]);
    expect(pretty.stderr).toBe('');
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toBe(`${JSON.stringify(JSON.parse(body), null, 2)}\n`);
    expect(raw.code).toBe(0);
    expect(raw.stdout).toBe(body);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('echo-us\n');
  }, 60_000);

  it('calls a streamed method with --stream, printing each chunk as it arrives', async () => {
    const words = spawnEntryPoint(['call', '--stream', 'echo', 'words', '{}', ...flags]);
    try {
      await words.waitFor(/first /);
      expect(words.output()).not.toContain('second');
      releaseWords();
      await words.waitFor(/first second\n/);
      // waitFor rejects when the process exits before a match: here, a pattern that never matches waits for the exit.
      await expect(words.waitFor(/(?!)/)).rejects.toThrow(/exited before/);
    } finally {
      expect(await words.stop()).toBe(0);
    }
    const [records, raw] = await Promise.all([
      cli('call', '--stream', 'echo', 'records', '{}'),
      cli('call', '--stream', '--raw', 'echo', 'records', '{}'),
    ]);
    expect(records.stderr).toBe('');
    expect(records.stdout).toBe('{"n":1}\n{"n":2}\n');
    expect(raw.stdout).toBe('{ "n": 1 }{ "n": 2 }');
  }, 60_000);

  it('says how to call a method of the other kind: streamed without --stream, unary with it', async () => {
    const [streamedAsUnary, unaryAsStreamed] = await Promise.all([
      cli('call', 'echo', 'words', '{}'),
      cli('call', '--stream', 'echo', 'echo', '{}'),
    ]);
    expect(streamedAsUnary.code).toBe(1);
    expect(streamedAsUnary.stderr).toBe(
      'agent-mesh: UNIMPLEMENTED: "words" is a streamed method: call it with InvokeStream (agent-mesh call --stream)\n',
    );
    expect(unaryAsStreamed.code).toBe(1);
    expect(unaryAsStreamed.stderr).toBe(
      'agent-mesh: UNIMPLEMENTED: "echo" is a unary method: call it with Invoke (agent-mesh call without --stream)\n',
    );
  }, 60_000);

  it('fails with the status name and message: unknown type, unknown method, bad JSON, deadline', async () => {
    const [unknownType, unknownMethod, draining, badJson, missing, deadline] = await Promise.all([
      cli('call', 'nosuch', 'echo', '{}'),
      cli('call', 'echo', 'nope', '{}', '--selector', 'zone=eu-1'),
      cli('call', 'batch', 'ping', '{}'),
      cli('call', 'echo', 'echo', '{not json'),
      cli('call', 'echo', 'echo'),
      cli('call', 'echo', 'hang', '{}', '--timeout', '300ms'),
    ]);
    expect(unknownType.code).toBe(1);
    expect(unknownType.stderr).toMatch(/^agent-mesh: UNAVAILABLE: no healthy agent for type nosuch/);
    expect(unknownMethod.code).toBe(1);
    expect(unknownMethod.stderr).toBe(
      'agent-mesh: UNIMPLEMENTED: unknown method "nope"; this agent serves: echo, hang, whoami, ' +
        'records (streamed: --stream), words (streamed: --stream)\n',
    );
    expect(draining.code).toBe(1);
    expect(draining.stderr).toMatch(/^agent-mesh: UNAVAILABLE: no healthy agent for type batch/);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^error: .*'json'.*it is not JSON/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: missing required argument 'json'/);
    expect(deadline.code).toBe(1);
    expect(deadline.stderr).toMatch(
      /^agent-mesh: DEADLINE_EXCEEDED: .*\(the deadline was 300ms: see --timeout\)$/m,
    );
  }, 120_000); // six processes, each starting Node.js and TypeScript

  it('reports PERMISSION_DENIED when the policies refuse the caller', async () => {
    const rule: PolicyRule = {
      id: 'no-cli-secrets',
      effect: 'deny',
      actions: ['invoke'],
      callers: [ID('cli')],
      callerTypes: [],
      targetTypes: ['echo'],
      methods: ['secret*'],
      topics: [],
    };
    await admin.setPolicies({ defaultEffect: 'allow', rules: [rule] });
    await until(
      () => agents.every((a) => a.cache.policies.rules.length === 1),
      'the agents have the policies',
    );
    try {
      const result = await cli('call', 'echo', 'secret-plans', '{}');
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^agent-mesh: PERMISSION_DENIED: .*may not invoke echo.secret-plans \(rule no-cli-secrets\)/,
      );
    } finally {
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
      await until(() => agents.every((a) => a.cache.policies.rules.length === 0), 'policies cleared');
    }
  }, 60_000);

  it('fails cleanly on wrong flags and a missing control plane', async () => {
    const [unknownFlag, noId, unreachable] = await Promise.all([
      cli('agents', 'list', '--colour'),
      cli('agents', 'show'),
      runEntryPoint('agent-mesh', [
        'agents',
        'list',
        '--certs',
        mesh.certsDir,
        '--name',
        'cli',
        '--control-plane',
        '127.0.0.1:1',
      ]),
    ]);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/^error: unknown option '--colour'/);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/^error: missing required argument 'id'/);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot use the control plane at 127\.0\.0\.1:1/);
    expect(unreachable.stderr).not.toMatch(/Resolution note|LB pick|name resolution/);
  }, 60_000);
});
