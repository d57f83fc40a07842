import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import type { RunningGateway } from '../../src/edge/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { GatewayTokens } from '../../src/edge/gateway-tokens.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const SUMMARIZE_INPUT = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] };
const SUMMARY = { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] };

/** How the MCP client reaches the mesh's tools: a transport to the mesh, and what to stop afterwards. */
type Connect = (mesh: TestMesh) => Promise<{ transport: Transport; close(): Promise<void> }>;

/** `agent-mesh mcp` as a language-model client runs it: a process of its own on stdio. */
const stdio: Connect = async (mesh) => ({
  transport: new StdioClientTransport({
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'mcp',
      '--certs',
      mesh.certsDir,
      '--name',
      'assistant',
      '--control-plane',
      mesh.controlPlane.address,
    ],
    cwd: root,
    env: getDefaultEnvironment(),
    stderr: 'inherit',
  }),
  close: async () => undefined,
});

/** The gateway's Streamable HTTP transport at /mcp, with a bearer token acting as the same identity. */
const streamableHttp: Connect = async (mesh) => {
  const gateway: RunningGateway = await startTestGateway(mesh);
  const { token } = await new GatewayTokens(mesh.certsDir).create('assistant');
  return {
    transport: new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
    close: () => gateway.close(),
  };
};

/**
 * The mesh's skills as MCP tools, driven by the MCP SDK's own client in front of a real mesh (control plane and
 * agents over mTLS, certificates from the test's CA), on both transports.
 */
describe.each([
  ['agent-mesh mcp on stdio', stdio],
  ['the gateway on Streamable HTTP', streamableHttp],
])('MCP tools: %s', (_name, connect: Connect) => {
  let mesh: TestMesh;
  let stopTransport: () => Promise<void> = async () => undefined;
  let admin: ControlPlaneClient;
  let client: Client;
  const agents: RunningAgent[] = [];
  const traceparents: string[] = [];
  let listChanged = 0;

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

  const toolNames = async () => (await client.listTools()).tools.map((tool) => tool.name).sort();

  beforeAll(async () => {
    mesh = await startTestMesh();
    admin = await mesh.client('control-plane');
    // The identity the MCP server acts as may not invoke the vault's skills.
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          id: 'no-vault-for-assistants',
          effect: 'deny',
          actions: ['invoke'],
          callers: [ID('assistant')],
          callerTypes: [],
          targetTypes: ['vault'],
          methods: [],
          topics: [],
        },
      ],
    });
    await start('writer-1', {
      skills: [
        {
          id: 'summarize',
          name: 'Summarize',
          description: 'the first sentence of a text',
          inputSchema: SUMMARIZE_INPUT,
          outputSchema: SUMMARY,
          handler: async (request, call) => {
            traceparents.push(call.context.traceparent ?? '');
            const { text } = JSON.parse(request.payload.toString()) as { text: string };
            if (!text) throw new MeshError(Code.INVALID_ARGUMENT, 'nothing to summarize: "text" is empty');
            return {
              payload: Buffer.from(JSON.stringify({ summary: `${text.split('.')[0]}.` })),
              contentType: 'application/json',
            };
          },
        },
        {
          id: 'text/shout',
          description: 'the text in capitals',
          inputSchema: { type: 'string' },
          handler: async (request) => ({
            payload: Buffer.from((JSON.parse(request.payload.toString()) as string).toUpperCase()),
            contentType: 'text/plain',
          }),
        },
      ],
    });
    await start('speller-1', {
      streams: {
        spell: async function* (request) {
          for (const letter of JSON.parse(request.payload.toString()) as string) {
            yield { payload: Buffer.from(`${letter} `), contentType: 'text/plain' };
          }
        },
      },
      skills: [{ id: 'spell', description: 'spells a word', inputSchema: { type: 'string' } }],
    });
    await start('vault-1', {
      skills: [
        {
          id: 'vault.open',
          description: 'opens the vault',
          handler: async () => ({ payload: Buffer.from('{}'), contentType: 'application/json' }),
        },
      ],
    });
    await mesh.identity('assistant', ['cli']);
    const { transport, close } = await connect(mesh);
    stopTransport = close;
    client = new Client({ name: 'agent-mesh-test', version: '1.0.0' });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged += 1;
    });
    await client.connect(transport);
  });

  afterAll(async () => {
    await client?.close();
    await stopTransport();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    admin?.close();
    await mesh?.close();
  });

  it('lists the skills the identity may call, with their schemas, and not the ones its policies refuse', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['spell', 'summarize', 'text.shout']);
    const summarize = tools.find((tool) => tool.name === 'summarize')!;
    expect(summarize).toMatchObject({
      title: 'Summarize',
      description: 'the first sentence of a text',
      inputSchema: SUMMARIZE_INPUT,
      outputSchema: SUMMARY,
      _meta: { 'agentmesh/skill': 'summarize', 'agentmesh/types': ['writer'] },
    });
    // A skill whose input is not an object takes it as the argument `input`.
    expect(tools.find((tool) => tool.name === 'text.shout')!.inputSchema).toEqual({
      type: 'object',
      properties: { input: { type: 'string' } },
      required: ['input'],
    });
  });

  it('calls a tool through the mesh, with structured content and the caller trace', async () => {
    const result = await client.callTool({
      name: 'summarize',
      arguments: { text: 'Meshes verify. Agents call.' },
      _meta: { traceparent: TRACEPARENT },
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ summary: 'Meshes verify.' });
    expect(result.content).toEqual([{ type: 'text', text: '{"summary":"Meshes verify."}' }]);
    expect(result._meta).toMatchObject({ 'agentmesh/agent': 'writer-1' });
    // The mesh call continues the MCP client's trace: same trace id, a span of its own.
    expect(traceparents.at(-1)).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(traceparents.at(-1)).not.toBe(TRACEPARENT);

    const shouted = await client.callTool({ name: 'text.shout', arguments: { input: 'quiet' } });
    expect(shouted.content).toEqual([{ type: 'text', text: 'QUIET' }]);

    // A streamed skill's chunks make one answer.
    const spelled = await client.callTool({ name: 'spell', arguments: { input: 'mesh' } });
    expect(spelled.content).toEqual([{ type: 'text', text: 'm e s h ' }]);
    expect(spelled._meta).toMatchObject({ 'agentmesh/chunks': 4 });
  });

  it("answers a failed call as a tool error with the mesh's status and message", async () => {
    const result = await client.callTool({ name: 'summarize', arguments: { text: '' } });
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([
      { type: 'text', text: 'INVALID_ARGUMENT: nothing to summarize: "text" is empty' },
    ]);
  });

  it('refuses a tool the policies refuse, and an unknown one, as a protocol error', async () => {
    for (const name of ['vault.open', 'no-such-tool']) {
      const error = await client.callTool({ name, arguments: {} }).then(
        () => undefined,
        (caught: unknown) => caught as { code: number; message: string },
      );
      expect(error?.code).toBe(-32602);
      expect(error?.message).toContain(`no tool "${name}"`);
    }
  });

  it('follows the registry: a tool appears when an agent comes and goes when it leaves', async () => {
    const before = listChanged;
    const translator = await start('translator-1', {
      skills: [
        {
          id: 'translate',
          description: 'translates',
          handler: async () => ({ payload: Buffer.from('"hola"'), contentType: 'application/json' }),
        },
      ],
    });
    await until(async () => (await toolNames()).includes('translate'), 'the new tool is listed', 20_000);
    expect(listChanged).toBeGreaterThan(before);
    const result = await client.callTool({ name: 'translate', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: '"hola"' }]);

    const seen = listChanged;
    await translator.drain(0);
    await until(async () => !(await toolNames()).includes('translate'), 'the tool is gone', 20_000);
    await until(() => listChanged > seen, 'tools/list_changed after the agent left', 20_000);
    expect(await toolNames()).toEqual(['spell', 'summarize', 'text.shout']);
  });
});
