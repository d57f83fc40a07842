import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Role, TaskState, type AgentCard, type Message, type Part } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { MeshError } from '../../src/core/errors.js';
import { Code } from '../../src/core/errors.js';
import { runEntryPoint, spawnEntryPoint, type RunningEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const fixture = fileURLToPath(new URL('../fixtures/mcp-server.ts', import.meta.url));
const json = (payload: Buffer) => JSON.parse(payload.toString()) as unknown;

async function failure(promise: Promise<unknown>): Promise<MeshError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as MeshError,
  );
}

const text = (value: string): Part => ({
  content: { $case: 'text', value },
  mediaType: 'text/plain',
  filename: '',
  metadata: undefined,
});

/** An A2A agent made with the A2A SDK's own server: `echo` answers its input and context; `refuse` rejects. */
async function startA2aAgent(): Promise<{ server: Server; cardUrl: string }> {
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const card: AgentCard = {
    name: 'echoer',
    description: 'echoes what it is told',
    version: '1.0.0',
    supportedInterfaces: [
      { url: `${url}/a2a`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
    ],
    provider: undefined,
    capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['application/json'],
    defaultOutputModes: ['application/json'],
    skills: ['echo', 'refuse'].map((id) => ({
      id,
      name: id,
      description: `${id}s`,
      tags: ['test'],
      examples: [],
      inputModes: ['application/json'],
      outputModes: ['application/json'],
      securityRequirements: [],
    })),
    signatures: [],
  };
  const executor: AgentExecutor = {
    async execute(context: RequestContext, bus: ExecutionEventBus) {
      const message = context.userMessage;
      const reply = (parts: Part[]): Message => ({
        messageId: randomUUID(),
        contextId: context.contextId,
        taskId: '',
        role: Role.ROLE_AGENT,
        parts,
        metadata: undefined,
        extensions: [],
        referenceTaskIds: [],
      });
      if (message.metadata?.skill === 'refuse') {
        bus.publish(
          AgentEvent.task({
            id: context.taskId,
            contextId: context.contextId,
            status: {
              state: TaskState.TASK_STATE_REJECTED,
              message: reply([text('not today')]),
              timestamp: new Date().toISOString(),
            },
            artifacts: [],
            history: [message],
            metadata: undefined,
          }),
        );
      } else {
        const input = message.parts[0]?.content;
        bus.publish(
          AgentEvent.message(
            reply([
              {
                content: {
                  $case: 'data',
                  value: {
                    echo: input?.$case === 'data' ? input.value : input?.value,
                    contextId: message.contextId,
                  },
                },
                mediaType: 'application/json',
                filename: '',
                metadata: undefined,
              },
            ]),
          ),
        );
      }
      bus.finished();
    },
    async cancelTask() {},
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }));
  app.use('/a2a', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
  return { server, cardUrl: `${url}/.well-known/agent-card.json` };
}

/**
 * Outside servers as mesh agents: `agent-mesh adapter mcp` in front of an MCP SDK server on stdio, and `agent-mesh
 * adapter a2a` in front of an A2A SDK agent, each a process of its own, called from a mesh agent with callTool.
 */
describe('agent-mesh adapter: MCP servers and A2A agents as mesh agents', () => {
  let mesh: TestMesh;
  let caller: RunningAgent;
  let a2a: { server: Server; cardUrl: string };
  const adapters: RunningEntryPoint[] = [];

  /** `agent-mesh adapter <args>`: the mesh's flags go first, before a `--` that ends them. */
  const adapt = async (args: string[], env: Record<string, string> = {}) => {
    const [kind, ...rest] = args;
    const adapter = spawnEntryPoint(
      ['adapter', kind!, '--certs', mesh.certsDir, '--control-plane', mesh.controlPlane.address, ...rest],
      env,
    );
    adapters.push(adapter);
    await adapter.waitFor(/agent-mesh adapter: .* skills /, 60_000);
    return adapter;
  };
  const mcp = (name: string) =>
    adapt(
      [
        'mcp',
        '--type',
        'calc',
        '--name',
        name,
        '--pass-env',
        'FIXTURE_NAME',
        '--',
        process.execPath,
        '--import',
        'tsx',
        fixture,
      ],
      { FIXTURE_NAME: name },
    );

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['calc-1', 'calc-2']) await mesh.identity(name, ['calc']);
    await mesh.identity('echoer-1', ['echoer']);
    caller = await startAgent({
      identity: await mesh.identity('caller-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'caller',
    });
    a2a = await startA2aAgent();
  });

  afterAll(async () => {
    await Promise.all(adapters.map((adapter) => adapter.stop()));
    await caller?.drain(0);
    a2a?.server.closeAllConnections();
    a2a?.server.close();
    await mesh?.close();
  });

  it("registers an MCP server's tools as skills, with their schemas, and calls them", async () => {
    const adapter = await mcp('calc-1');
    expect(adapter.output()).toMatch(
      /calc-1 \(type calc\) serves MCP server calculator 1\.2\.3 .*skills add, fail, whoami/,
    );
    const answer = await caller.mesh.callTool('add', { a: 2, b: 3 });
    expect(json(answer.payload)).toEqual({ sum: 5 });
    expect(answer.agent.id).toBe('calc-1');
    const skill = answer.agent.spec.skills.find((candidate) => candidate.id === 'add')!;
    expect(JSON.parse(skill.inputSchema)).toMatchObject({
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
    });
    expect(JSON.parse(skill.outputSchema)).toMatchObject({ properties: { sum: { type: 'number' } } });

    const failed = await failure(caller.mesh.callTool('fail', {}));
    expect(failed.code).toBe(Code.UNKNOWN);
    expect(failed.message).toContain('the MCP tool fail failed: the disk is full');
    const refused = await failure(caller.mesh.callTool('add', { a: 'two' }));
    expect(refused.code).toBe(Code.INVALID_ARGUMENT);
    expect(refused.message).toContain('the arguments of the MCP tool add do not match its input schema');
  });

  it('balances over several adapters and fails over when one is killed', async () => {
    await mcp('calc-2');
    await until(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i += 1) seen.add((await caller.mesh.callTool('whoami', {})).payload.toString());
      return seen.size === 2;
    }, 'calls reach both adapters');
    adapters.find((adapter) => adapter.output().includes('calc-1 (type calc)'))!.signal('SIGKILL');
    // Idempotent calls: one sent on calc-1's dead connection may have reached it, so only those are retried.
    let failed = 0;
    const answers = new Set<string>();
    for (let i = 0; i < 20; i += 1) {
      try {
        answers.add((await caller.mesh.callTool('whoami', {}, { idempotent: true })).payload.toString());
      } catch {
        failed += 1;
      }
    }
    expect(failed).toBe(0);
    expect(answers).toEqual(new Set(['calc-2']));
  });

  it("registers an A2A agent's skills and calls them, the conversation as its contextId", async () => {
    await adapt(['a2a', a2a.cardUrl, '--type', 'echoer', '--name', 'echoer-1']);
    const answer = await caller.mesh.callTool(
      'echo',
      { hello: 'mesh' },
      { conversationId: 'conversation-7' },
    );
    expect(json(answer.payload)).toEqual({ echo: { hello: 'mesh' }, contextId: 'conversation-7' });
    expect(answer.agent.spec.description).toBe('A2A agent echoer: echoes what it is told');
    const refused = await failure(caller.mesh.callTool('refuse', {}));
    expect(refused.code).toBe(Code.FAILED_PRECONDITION);
    expect(refused.message).toContain("the A2A agent's task for refuse was rejected: not today");
  });

  it('refuses bad flags with exit 2, and an unreachable server with exit 1', async () => {
    const base = ['--certs', mesh.certsDir, '--control-plane', mesh.controlPlane.address];
    const noServer = await runEntryPoint('agent-mesh', [
      'adapter',
      'mcp',
      '--type',
      'calc',
      '--name',
      'calc-1',
      ...base,
    ]);
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toContain('give the MCP server as a command after -- or as --url');
    const noName = await runEntryPoint('agent-mesh', [
      'adapter',
      'a2a',
      a2a.cardUrl,
      '--type',
      'echoer',
      ...base,
    ]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('--name');
    const nowhere = await runEntryPoint('agent-mesh', [
      'adapter',
      'a2a',
      'http://127.0.0.1:9/.well-known/agent-card.json',
      '--type',
      'echoer',
      '--name',
      'echoer-1',
      ...base,
    ]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain('cannot read the A2A agent card');
  });
});
