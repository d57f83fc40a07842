import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type RequestHandler } from 'express';
import { AgentCard, Role, TaskState, type Message, type Part } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
  type ServerCallContext,
  type User,
} from '@a2a-js/sdk/server';
import { jsonRpcHandler } from '@a2a-js/sdk/server/express';
import { randomUUID } from 'node:crypto';
import { MeshError, codeName, quote } from '../core/errors.js';
import type { EndpointCache } from '../data-plane/endpoint-cache.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayCaller } from './gateway.js';
import type { MeshTool } from './mesh-tools.js';

/** Options of {@link createA2aRoutes}. */
export interface A2aRoutesOptions {
  /** The gateway's base URL, for the cards' interface URLs (known once it listens). */
  url: () => string;
  cache: EndpointCache;
  logger: Logger;
  version: string;
  /** Tasks kept per agent type (default 10,000; the oldest go first). */
  maxTasks?: number;
}

/** The A2A side of the gateway. */
export interface A2aRoutes {
  /** Serves a request under `/a2a` from an authenticated caller. */
  serve(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    caller: GatewayCaller,
  ): Promise<void>;
  close(): void;
}

/** The A2A protocol version the gateway speaks (JSON-RPC binding). */
export const A2A_VERSION = '1.0';
/** Agent types served at once: one route each, made on first use. */
const MAX_TYPES = 1_024;
const TYPE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const CALLER = Symbol('agentmesh.caller');

/** An outside client as the A2A SDK sees it: authenticated, named by its mesh identity (tasks are scoped by it). */
class GatewayUser implements User {
  constructor(readonly caller: GatewayCaller) {}
  get isAuthenticated(): boolean {
    return true;
  }
  get userName(): string {
    return this.caller.name;
  }
}

/**
 * A2A at the mesh's edge: each agent type with skills is an A2A agent. `GET /a2a` lists them; `GET
 * /a2a/<type>/.well-known/agent-card.json` is a type's card (its skills the caller may call, the gateway's
 * JSON-RPC URL, bearer authentication); `POST /a2a/<type>` is the JSON-RPC binding (`SendMessage`,
 * `SendStreamingMessage`, `GetTask`, `CancelTask`, `ListTasks`), served by the A2A SDK's request handler with an
 * executor that calls the mesh. A message names its skill in `metadata.skill` (a type with one skill needs none);
 * its input is its first data part, or its text (JSON when it parses). The answer is a task: working, one artifact
 * (`answer`) made of the skill's chunks (one for a unary skill, each chunk of a streamed one as it arrives), then
 * completed, or failed with the mesh's status and message. A task's `contextId` is the mesh call's conversation id
 * and its consistent-hash key, so a conversation stays on one instance.
 */
export function createA2aRoutes(options: A2aRoutesOptions): A2aRoutes {
  const { cache, logger } = options;
  const routes = new Map<string, RequestHandler>();
  const app = express();
  app.disable('x-powered-by');

  /** The skills of `type` that `caller` may call, as the registry's healthy agents describe them. */
  const toolsOf = (type: string, caller: GatewayCaller) =>
    caller.tools.list().filter((tool) => tool.types.includes(type));

  const cardOf = (type: string, caller: GatewayCaller): AgentCard | undefined => {
    const url = options.url();
    const tools = toolsOf(type, caller);
    if (tools.length === 0) return undefined;
    const record = [...cache.all()].find((agent) => agent.spec.type === type && agent.health === 'healthy');
    return {
      name: type,
      description: record?.spec.description || `the ${type} agents of the mesh`,
      version: options.version,
      supportedInterfaces: [
        { url: `${url}/a2a/${type}`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: A2A_VERSION },
      ],
      provider: { organization: 'agent-mesh', url },
      capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
      securitySchemes: {
        bearer: {
          scheme: {
            $case: 'httpAuthSecurityScheme',
            value: {
              scheme: 'Bearer',
              bearerFormat: 'agent-mesh gateway token',
              description: 'a token from `agent-mesh gateway token create <identity>`',
            },
          },
        },
      },
      securityRequirements: [{ schemes: { bearer: { list: [] } } }],
      defaultInputModes: ['application/json', 'text/plain'],
      defaultOutputModes: ['application/json', 'text/plain'],
      skills: tools.map((tool) => ({
        id: tool.skillId,
        name: tool.title,
        description: tool.skill.description || tool.title,
        tags: tool.skill.tags,
        examples: tool.skill.examples,
        inputModes: modes(tool.skill.inputContentTypes),
        outputModes: modes(tool.skill.outputContentTypes),
        securityRequirements: [],
      })),
      signatures: [],
    };
  };

  const routeOf = (type: string): RequestHandler => {
    const url = options.url();
    let route = routes.get(type);
    if (!route) {
      if (routes.size >= MAX_TYPES) routes.delete(routes.keys().next().value!);
      const handler = new DefaultRequestHandler(
        // The card the SDK checks requests against (versions, modes); the one clients read is cardOf's.
        {
          name: type,
          description: '',
          version: options.version,
          supportedInterfaces: [
            {
              url: `${url}/a2a/${type}`,
              protocolBinding: 'JSONRPC',
              tenant: '',
              protocolVersion: A2A_VERSION,
            },
          ],
          provider: undefined,
          capabilities: {
            streaming: true,
            pushNotifications: false,
            extensions: [],
            extendedAgentCard: false,
          },
          securitySchemes: {},
          securityRequirements: [],
          defaultInputModes: [],
          defaultOutputModes: [],
          skills: [],
          signatures: [],
        },
        new BoundedTaskStore(options.maxTasks ?? 10_000),
        new MeshExecutor(type, toolsOf),
      );
      route = jsonRpcHandler({
        requestHandler: handler,
        userBuilder: async (request: Request) =>
          new GatewayUser((request as unknown as { [CALLER]: GatewayCaller })[CALLER]),
      });
      routes.set(type, route);
    }
    return route;
  };

  app.use('/a2a/:type', (request, response, next) => {
    const type = request.params.type!;
    const caller = (request as unknown as { [CALLER]: GatewayCaller })[CALLER];
    if (!TYPE.test(type) || toolsOf(type, caller).length === 0) {
      response.status(404).json({
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32601,
          message: `no A2A agent ${quote(type)} here that you may call: GET /a2a lists them`,
        },
      });
      return;
    }
    routeOf(type)(request, response, next);
  });

  return {
    async serve(request, response, path, caller) {
      if (request.method === 'GET' || request.method === 'HEAD') {
        const url = options.url();
        if (path === '/a2a' || path === '/a2a/') {
          const types = [...new Set(caller.tools.list().flatMap((tool) => tool.types))].sort();
          sendJson(response, 200, {
            agents: types.map((type) => ({
              type,
              card: `${url}/a2a/${type}/.well-known/agent-card.json`,
              url: `${url}/a2a/${type}`,
              skills: toolsOf(type, caller).map((tool) => tool.skillId),
            })),
          });
          return;
        }
        const match = /^\/a2a\/([^/]+)\/\.well-known\/agent-card\.json$/.exec(path);
        const card = match && TYPE.test(match[1]!) ? cardOf(match[1]!, caller) : undefined;
        if (!card) {
          sendJson(response, 404, { error: `no A2A agent card at ${path}: GET /a2a lists them` });
          return;
        }
        sendJson(response, 200, AgentCard.toJSON(card));
        return;
      }
      (request as unknown as { [CALLER]: GatewayCaller })[CALLER] = caller;
      await new Promise<void>((resolve) => {
        response.once('close', resolve);
        app(request as Request, response as express.Response, (error?: unknown) => {
          if (error) logger.warn({ err: error, path }, 'A2A request failed');
          if (!response.headersSent) {
            if (error)
              sendJson(response, 500, { error: `the A2A request failed: ${(error as Error).message}` });
            else sendJson(response, 404, { error: `no such A2A endpoint: ${path}` });
          }
          resolve();
        });
      });
    },
    close() {
      routes.clear();
    },
  };
}

/** Logs what became of a message, with the outside caller. */
function logOutcome(caller: GatewayCaller, fields: Record<string, unknown>) {
  caller.logger.info(fields, 'A2A message handled');
}

/** The executor of one agent type: a message becomes a call of the named skill on the type's agents. */
class MeshExecutor implements AgentExecutor {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly type: string,
    private readonly tools: (type: string, caller: GatewayCaller) => MeshTool[],
  ) {}

  async execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const user = context.context.user;
    const caller = user instanceof GatewayUser ? user.caller : undefined;
    const { taskId, contextId } = context;
    const message = context.userMessage;
    const status = (state: TaskState, text?: string) =>
      bus.publish(
        AgentEvent.statusUpdate({
          taskId,
          contextId,
          status: {
            state,
            message: text === undefined ? undefined : agentMessage([textPart(text)], contextId, taskId),
            timestamp: new Date().toISOString(),
          },
          metadata: undefined,
        }),
      );
    bus.publish(
      AgentEvent.task({
        id: taskId,
        contextId,
        status: {
          state: TaskState.TASK_STATE_WORKING,
          message: undefined,
          timestamp: new Date().toISOString(),
        },
        artifacts: [],
        history: [message],
        metadata: undefined,
      }),
    );
    if (!caller) {
      status(TaskState.TASK_STATE_REJECTED, 'UNAUTHENTICATED: the gateway did not authenticate this request');
      bus.finished();
      return;
    }
    const tools = this.tools(this.type, caller);
    const named = message.metadata?.skill ?? context.request.metadata?.skill;
    const tool =
      typeof named === 'string'
        ? tools.find((candidate) => candidate.skillId === named)
        : tools.length === 1
          ? tools[0]
          : undefined;
    if (!tool) {
      const choices = tools.map((candidate) => candidate.skillId).join(', ');
      status(
        TaskState.TASK_STATE_REJECTED,
        typeof named === 'string'
          ? `NOT_FOUND: ${this.type} offers no skill ${quote(named)} that ${caller.name} may call; one of: ${choices}`
          : `INVALID_ARGUMENT: name the skill in the message's metadata.skill, one of: ${choices}`,
      );
      logOutcome(caller, { type: this.type, skill: named, task: taskId, outcome: 'rejected' });
      bus.finished();
      return;
    }
    const abort = new AbortController();
    this.running.set(taskId, abort);
    const traceparent = message.metadata?.traceparent;
    let chunks = 0;
    try {
      for await (const chunk of caller.tools.chunks(tool, inputOf(message), {
        type: this.type,
        conversationId: contextId,
        ...(typeof traceparent === 'string' ? { traceparent } : {}),
      })) {
        if (abort.signal.aborted) break;
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId,
            contextId,
            artifact: {
              artifactId: 'answer',
              name: tool.skillId,
              description: '',
              parts: [partOf(chunk.payload, chunk.contentType)],
              metadata: undefined,
              extensions: [],
            },
            append: chunks > 0,
            lastChunk: !tool.streaming,
            metadata: undefined,
          }),
        );
        chunks += 1;
      }
      if (abort.signal.aborted) status(TaskState.TASK_STATE_CANCELED, 'canceled by the client');
      else status(TaskState.TASK_STATE_COMPLETED);
      logOutcome(caller, {
        type: this.type,
        skill: tool.skillId,
        task: taskId,
        chunks,
        outcome: abort.signal.aborted ? 'canceled' : 'completed',
      });
    } catch (error) {
      const failure = MeshError.from(error);
      status(TaskState.TASK_STATE_FAILED, `${codeName(failure.code)}: ${failure.message}`);
      logOutcome(caller, {
        type: this.type,
        skill: tool.skillId,
        task: taskId,
        outcome: codeName(failure.code),
      });
    } finally {
      this.running.delete(taskId);
      bus.finished();
    }
  }

  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    const running = this.running.get(taskId);
    if (running) {
      running.abort(); // its execution publishes the canceled status when its current chunk is in
      return;
    }
    bus.publish(
      AgentEvent.statusUpdate({
        taskId,
        contextId: '',
        status: {
          state: TaskState.TASK_STATE_CANCELED,
          message: undefined,
          timestamp: new Date().toISOString(),
        },
        metadata: undefined,
      }),
    );
    bus.finished();
  }
}

/** The SDK's in-memory task store, keeping the `max` most recently saved tasks (every client's together). */
class BoundedTaskStore extends InMemoryTaskStore {
  private readonly order = new Map<string, { taskId: string; context: ServerCallContext }>();

  constructor(private readonly max: number) {
    super();
  }

  override async save(...args: Parameters<InMemoryTaskStore['save']>): Promise<void> {
    const [task, context] = args;
    await super.save(task, context);
    const key = `${context.tenant ?? ''}\n${context.user?.userName ?? ''}\n${task.id}`;
    this.order.delete(key);
    this.order.set(key, { taskId: task.id, context });
    while (this.order.size > this.max) {
      const [oldest, entry] = this.order.entries().next().value!;
      this.order.delete(oldest);
      // The store keeps tasks by tenant and owner (its `_scopedStore`); forgetting one is deleting it there.
      const scoped = (
        this as unknown as {
          _scopedStore: { getBucket(context: ServerCallContext): Map<string, unknown> | undefined };
        }
      )._scopedStore;
      scoped.getBucket(entry.context)?.delete(entry.taskId);
    }
  }
}

function modes(types: readonly string[]): string[] {
  return types.length > 0 ? [...types] : ['application/json'];
}

/** A skill's input from a message: its first data part, else its text (a JSON value when it parses as one). */
function inputOf(message: Message): unknown {
  const data = message.parts.find((part) => part.content?.$case === 'data');
  if (data?.content?.$case === 'data') return data.content.value;
  const text = message.parts
    .map((part) => (part.content?.$case === 'text' ? part.content.value : ''))
    .join('');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A chunk of an answer as a part: a JSON object or array as data, other JSON and text as text, else raw bytes. */
function partOf(payload: Buffer, contentType: string): Part {
  const mediaType = (contentType || 'application/json').split(';')[0]!.trim();
  if (/^application\/(json|[^;]*\+json)$/i.test(mediaType)) {
    try {
      const value = JSON.parse(payload.toString()) as unknown;
      if (typeof value === 'object' && value !== null) {
        return {
          content: { $case: 'data', value: value as Record<string, unknown> },
          mediaType,
          filename: '',
          metadata: undefined,
        };
      }
    } catch {
      // Labelled JSON but not JSON: pass it on as text.
    }
    return textPart(payload.toString(), mediaType);
  }
  if (mediaType.startsWith('text/')) return textPart(payload.toString(), mediaType);
  return { content: { $case: 'raw', value: payload }, mediaType, filename: '', metadata: undefined };
}

function textPart(text: string, mediaType = 'text/plain'): Part {
  return { content: { $case: 'text', value: text }, mediaType, filename: '', metadata: undefined };
}

function agentMessage(parts: Part[], contextId: string, taskId: string): Message {
  return {
    messageId: randomUUID(),
    contextId,
    taskId,
    role: Role.ROLE_AGENT,
    parts,
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(value)}\n`);
}
