import { randomUUID } from 'node:crypto';
import { Role, TaskState, type Message, type Part, type SendMessageRequest, type Task } from '@a2a-js/sdk';
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  type CallInterceptor,
  type Client,
} from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import type { RunningGateway } from '../../src/edge/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { GatewayTokens } from '../../src/edge/gateway-tokens.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;

const text = (value: string): Part => ({
  content: { $case: 'text', value },
  mediaType: 'text/plain',
  filename: '',
  metadata: undefined,
});
const data = (value: Record<string, unknown>): Part => ({
  content: { $case: 'data', value },
  mediaType: 'application/json',
  filename: '',
  metadata: undefined,
});

/** A user message as the A2A SDK's client sends it. */
function request(parts: Part[], options: { contextId?: string; skill?: string } = {}): SendMessageRequest {
  const message: Message = {
    messageId: randomUUID(),
    contextId: options.contextId ?? '',
    taskId: '',
    role: Role.ROLE_USER,
    parts,
    metadata: options.skill ? { skill: options.skill } : undefined,
    extensions: [],
    referenceTaskIds: [],
  };
  return { tenant: '', message, configuration: undefined, metadata: undefined };
}

/** The parts of a task's `answer` artifact, as values: data as objects, text as strings. */
function answerOf(task: Task): unknown[] {
  const artifact = task.artifacts.find((candidate) => candidate.artifactId === 'answer');
  return (artifact?.parts ?? []).map((part) =>
    part.content?.$case === 'data' || part.content?.$case === 'text' ? part.content.value : part,
  );
}

function statusText(task: Task): string {
  const part = task.status?.message?.parts[0];
  return part?.content?.$case === 'text' ? part.content.value : '';
}

/**
 * A2A at the gateway, driven by the A2A SDK's own client: a card per agent type, a message turned into a call of a
 * skill on a healthy instance, a streamed skill as streamed artifact updates, failures as failed tasks.
 */
describe('the gateway: mesh agents as A2A agents', () => {
  let mesh: TestMesh;
  let admin: ControlPlaneClient;
  let gateway: RunningGateway;
  let client: Client;
  let token: string;
  const agents: RunningAgent[] = [];

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

  const clientFor = async (type: string, bearer: string): Promise<Client> => {
    const auth: CallInterceptor = {
      async before(args) {
        args.options!.serviceParameters!.Authorization = `Bearer ${bearer}`;
      },
      async after() {},
    };
    const factory = new ClientFactory(
      ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        clientConfig: { interceptors: [auth] },
        // The cards are behind the same authentication: the SDK's resolver fetches them with the token.
        cardResolver: new DefaultAgentCardResolver({
          fetchImpl: (input, init) =>
            fetch(input, {
              ...init,
              headers: { ...(init?.headers as object), authorization: `Bearer ${bearer}` },
            }),
        }),
      }),
    );
    return factory.createFromUrl(`${gateway.url}/a2a/${type}/.well-known/agent-card.json`, '');
  };

  beforeAll(async () => {
    mesh = await startTestMesh();
    admin = await mesh.client('control-plane');
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          id: 'partners-do-not-shred',
          effect: 'deny',
          actions: ['invoke'],
          callers: [ID('partner')],
          callerTypes: [],
          targetTypes: [],
          methods: ['shred'],
          topics: [],
        },
      ],
    });
    for (const name of ['writer-1', 'writer-2']) {
      await start(name, {
        description: 'writes and condenses text',
        skills: [
          {
            id: 'summarize',
            name: 'Summarize',
            description: 'the first sentence of a text',
            tags: ['text'],
            handler: async (input) => {
              const { text: body } = JSON.parse(input.payload.toString()) as { text: string };
              if (!body) throw new MeshError(Code.INVALID_ARGUMENT, 'nothing to summarize: "text" is empty');
              return {
                payload: Buffer.from(JSON.stringify({ summary: `${body.split('.')[0]}.`, by: name })),
                contentType: 'application/json',
              };
            },
          },
          { id: 'spell', description: 'spells a word, one letter at a time' },
          {
            id: 'shred',
            handler: async () => ({ payload: Buffer.from('{}'), contentType: 'application/json' }),
          },
        ],
        streams: {
          spell: async function* (input) {
            for (const letter of JSON.parse(input.payload.toString()) as string) {
              yield { payload: Buffer.from(letter), contentType: 'text/plain' };
            }
          },
        },
      });
    }
    await mesh.identity('partner', ['cli']);
    gateway = await startTestGateway(mesh);
    token = (await new GatewayTokens(mesh.certsDir).create('partner')).token;
    client = await clientFor('writer', token);
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    admin?.close();
    await mesh?.close();
  });

  it("serves each type's card with the skills the caller may call, and an index of them", async () => {
    const card = await client.getAgentCard();
    expect(card.name).toBe('writer');
    expect(card.description).toBe('writes and condenses text');
    expect(card.supportedInterfaces[0]).toMatchObject({
      url: `${gateway.url}/a2a/writer`,
      protocolBinding: 'JSONRPC',
      protocolVersion: '1.0',
    });
    expect(card.capabilities?.streaming).toBe(true);
    // `shred` is refused to this caller by the policies: not on its card.
    expect(card.skills.map((skill) => skill.id).sort()).toEqual(['spell', 'summarize']);
    const index = (await (
      await fetch(`${gateway.url}/a2a`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { agents: Array<{ type: string; skills: string[] }> };
    expect(index.agents).toEqual([
      expect.objectContaining({ type: 'writer', skills: ['spell', 'summarize'] }),
    ]);
  });

  it('turns a message into a call of the skill and answers with a completed task', async () => {
    const answer = (await client.sendMessage(
      request([data({ text: 'Meshes verify. Agents call.' })], { skill: 'summarize' }),
    )) as Task;
    expect(answer.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(answerOf(answer)).toEqual([
      { summary: 'Meshes verify.', by: expect.stringMatching(/^writer-[12]$/) },
    ]);
    // A text part that is JSON is the input too.
    const fromText = (await client.sendMessage(
      request([text('{"text": "One. Two."}')], { skill: 'summarize' }),
    )) as Task;
    expect(answerOf(fromText)).toEqual([expect.objectContaining({ summary: 'One.' })]);
  });

  it('keeps a conversation (contextId) on one instance', async () => {
    const contextId = randomUUID();
    const answers = new Set<unknown>();
    for (let i = 0; i < 6; i += 1) {
      const task = (await client.sendMessage(
        request([data({ text: `Turn ${i}.` })], { skill: 'summarize', contextId }),
      )) as Task;
      expect(task.contextId).toBe(contextId);
      answers.add((answerOf(task)[0] as { by: string }).by);
    }
    expect(answers.size).toBe(1);
  });

  it('streams a streamed skill as artifact updates, then completes', async () => {
    const events: string[] = [];
    let letters = '';
    for await (const event of client.sendMessageStream(request([text('"mesh"')], { skill: 'spell' }))) {
      const payload = event.payload;
      if (payload?.$case === 'task') events.push('task');
      if (payload?.$case === 'artifactUpdate') {
        events.push('artifact');
        const part = payload.value.artifact?.parts[0];
        if (part?.content?.$case === 'text') letters += part.content.value;
      }
      if (payload?.$case === 'statusUpdate') events.push(`status ${payload.value.status?.state}`);
    }
    expect(letters).toBe('mesh');
    expect(events).toEqual([
      'task',
      'artifact',
      'artifact',
      'artifact',
      'artifact',
      `status ${TaskState.TASK_STATE_COMPLETED}`,
    ]);
  });

  it("fails a task with the mesh's status and message, and rejects a skill the caller may not call", async () => {
    const failed = (await client.sendMessage(request([data({ text: '' })], { skill: 'summarize' }))) as Task;
    expect(failed.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(failed)).toBe('INVALID_ARGUMENT: nothing to summarize: "text" is empty');

    const refused = (await client.sendMessage(request([data({})], { skill: 'shred' }))) as Task;
    expect(refused.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(refused)).toMatch(
      /offers no skill "shred" that partner may call; one of: spell, summarize/,
    );

    const unnamed = (await client.sendMessage(request([data({})]))) as Task;
    expect(unnamed.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(unnamed)).toMatch(/name the skill in the message's metadata.skill/);
  });

  it('keeps tasks per client: another identity cannot read them', async () => {
    const task = (await client.sendMessage(
      request([data({ text: 'Mine.' })], { skill: 'summarize' }),
    )) as Task;
    expect((await client.getTask({ id: task.id, historyLength: 0, tenant: '' })).id).toBe(task.id);
    await mesh.identity('stranger', ['cli']);
    const theirs = await clientFor(
      'writer',
      (await new GatewayTokens(mesh.certsDir).create('stranger')).token,
    );
    await expect(theirs.getTask({ id: task.id, historyLength: 0, tenant: '' })).rejects.toThrow(/not found/i);
  });

  it('answers 401 to a client without a token, and 404 for a type with no agents', async () => {
    const response = await fetch(`${gateway.url}/a2a/writer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: {} }),
    });
    expect(response.status).toBe(401);
    const card = await fetch(`${gateway.url}/a2a/nobody/.well-known/agent-card.json`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(card.status).toBe(404);
  });
});
