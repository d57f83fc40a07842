import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code } from '../../src/core/errors.js';
import { runEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const SUMMARIZE_INPUT = {
  type: 'object',
  properties: { text: { type: 'string' } },
  required: ['text'],
};

/** Agent cards: skills registered with agents, found by discovery, called with `callTool`, shown by the CLI. */
describe('agent cards and tool routing', () => {
  let mesh: TestMesh;
  let discovery: ControlPlaneClient;
  const agents: RunningAgent[] = [];
  let caller: RunningAgent;

  const start = async (name: string, options: Partial<Parameters<typeof startAgent>[0]>) => {
    const agent = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: name.replace(/-\d+$/, ''),
      ...options,
    });
    agents.push(agent);
    return agent;
  };

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['writer-1', 'writer-2']) {
      await start(name, {
        description: 'writes and condenses text',
        skills: [
          {
            id: 'summarize',
            name: 'Summarize',
            description: 'the first sentence of a text',
            tags: ['text', 'nlp'],
            inputSchema: SUMMARIZE_INPUT,
            examples: ['{"text": "One. Two."}'],
            handler: async (request) => {
              const { text } = JSON.parse(request.payload.toString()) as { text: string };
              return { payload: Buffer.from(`${name}: ${text.split('.')[0]}.`), contentType: 'text/plain' };
            },
          },
        ],
      });
    }
    await start('search-1', {
      methods: {
        'search.web': async () => ({ payload: Buffer.from('[]'), contentType: 'application/json' }),
      },
      skills: [{ id: 'search.web', description: 'searches the web', tags: ['web'] }],
    });
    caller = await start('caller-1', {});
    discovery = await mesh.client('caller-1');
    await until(
      () => knows(caller, 'writer-1', 'writer-2', 'search-1'),
      'agents known to the caller',
      10_000,
    );
  });

  afterAll(async () => {
    discovery?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('discovers agents by skill id and by skill tag', async () => {
    const bySkill = await discovery.discover({ skill: 'summarize' });
    expect(bySkill.agents.map((a) => a.id)).toEqual(['writer-1', 'writer-2']);
    expect(bySkill.agents[0]!.spec.skills[0]).toMatchObject({
      id: 'summarize',
      tags: ['text', 'nlp'],
      inputSchema: JSON.stringify(SUMMARIZE_INPUT),
    });
    expect((await discovery.discover({ skillTag: 'web' })).agents.map((a) => a.id)).toEqual(['search-1']);
    expect((await discovery.discover({ skill: 'summarize', skillTag: 'web' })).agents).toEqual([]);
    expect(caller.cache.select({ skillTag: 'nlp' }).map((a) => a.id)).toEqual(['writer-1', 'writer-2']);
  });

  it('routes callTool to the agents that have the skill, balancing over them', async () => {
    const answers = new Set<string>();
    for (let i = 0; i < 20; i += 1) {
      const result = await caller.mesh.callTool('summarize', { text: 'Meshes route tools. Really.' });
      answers.add(result.payload.toString());
    }
    expect(answers).toEqual(new Set(['writer-1: Meshes route tools.', 'writer-2: Meshes route tools.']));
    const web = await caller.mesh.callTool('search.web', { q: 'agents' });
    expect(web.agent.id).toBe('search-1');
  });

  it('fails over to another agent with the skill when one leaves', async () => {
    await agents.find((a) => a.name === 'writer-1')!.drain(0);
    await until(() => caller.cache.select({ skill: 'summarize' }).length === 1, 'writer-1 gone', 10_000);
    for (let i = 0; i < 5; i += 1) {
      const result = await caller.mesh.callTool('summarize', { text: 'Still here.' }, { idempotent: true });
      expect(result.agent.id).toBe('writer-2');
    }
  });

  it('refuses a tool nobody offers, and bad skills at start', async () => {
    await expect(caller.mesh.callTool('translate', {})).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
      message: expect.stringContaining('skill translate'),
    });
    const bad = async (skills: Parameters<typeof startAgent>[0]['skills'], message: RegExp) => {
      await expect(start('bad-1', { skills })).rejects.toThrow(message);
    };
    await bad([{ id: 'x y', handler: async (r) => r }], /skill id "x y" must be/);
    await bad(
      [
        { id: 'twice', handler: async (r) => r },
        { id: 'twice', handler: async (r) => r },
      ],
      /skill "twice" is listed twice/,
    );
    await bad([{ id: 'schema', inputSchema: '{nope', handler: async (r) => r }], /input schema is not JSON/);
    await bad([{ id: 'lonely' }], /skill "lonely" has no handler/);
    // A skill id is also the method callTool invokes: no character a method name may not have.
    await bad([{ id: 'search:web', handler: async (r) => r }], /skill id "search:web" must be/);
  });

  it('prints the card, and the card in the A2A AgentCard shape', async () => {
    await mesh.identity('cli');
    const flags = ['--certs', mesh.certsDir, '--name', 'cli', '--control-plane', mesh.controlPlane.address];
    const text = await runEntryPoint('agent-mesh', ['agents', 'show', 'writer-2', '--card', ...flags]);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain('writer-2 (writer): writes and condenses text');
    expect(text.stdout).toContain('summarize (Summarize)');
    expect(text.stdout).toContain('tags: text, nlp');
    const a2a = await runEntryPoint('agent-mesh', ['agents', 'show', 'writer-2', '--a2a', ...flags]);
    const card = JSON.parse(a2a.stdout) as Record<string, unknown>;
    expect(card).toMatchObject({
      protocolVersion: '0.3.0',
      name: 'writer-2',
      description: 'writes and condenses text',
      url: expect.stringMatching(/^grpcs:\/\/127\.0\.0\.1:\d+$/),
      capabilities: { streaming: true },
      defaultInputModes: ['application/json'],
      defaultOutputModes: ['application/json'],
      skills: [
        {
          id: 'summarize',
          name: 'Summarize',
          description: 'the first sentence of a text',
          tags: ['text', 'nlp'],
          examples: ['{"text": "One. Two."}'],
          inputModes: ['application/json'],
          outputModes: ['application/json'],
        },
      ],
      agentmesh: { type: 'writer', schemas: { summarize: { input: SUMMARIZE_INPUT } } },
    });
  });
});
