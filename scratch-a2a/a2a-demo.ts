/**
 * Self-contained A2A v1.0 demo for @a2a-js/sdk@1.3.0 + express@5.
 *   cd /work/main && node --import tsx scratch-a2a/a2a-demo.ts
 *
 * One express server, two agents (/a2a/summarizer, /a2a/auditor), each with
 * its own card at <prefix>/.well-known/agent-card.json, JSON-RPC endpoint at
 * <prefix> (POST), bearer-token auth, SDK client for card/send/stream/errors.
 */
import express from 'express';
import type { Request, Response, NextFunction } from 'express';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

// Types + enums (runtime values) live in the root entry point.
import {
  TaskState,
  Role,
  taskStateToJSON,
  type AgentCard,
  type Message,
  type Part,
  type Task,
  type SendMessageRequest,
  StreamResponse,
} from '@a2a-js/sdk';
import {
  DefaultRequestHandler,
  InMemoryTaskStore,
  AgentEvent,
  type AgentExecutor,
  type RequestContext,
  type ExecutionEventBus,
  type User,
} from '@a2a-js/sdk/server';
import { jsonRpcHandler, agentCardHandler, type UserBuilder } from '@a2a-js/sdk/server/express';
import {
  ClientFactory,
  ClientFactoryOptions,
  JsonRpcTransportFactory,
  DefaultAgentCardResolver,
  createAuthenticatingFetchWithRetry,
  type Client,
  type CallInterceptor,
  type BeforeArgs,
} from '@a2a-js/sdk/client';
import { A2AError, UnsupportedOperationError, isJsonRpcError } from '@a2a-js/sdk/errors';

// ---------------------------------------------------------------------------
// Helpers to build the (proto-shaped, all-fields-required) internal objects
// ---------------------------------------------------------------------------
const textPart = (text: string): Part => ({
  content: { $case: 'text', value: text },
  mediaType: 'text/plain',
  filename: '',
  metadata: undefined,
});
const dataPart = (value: Record<string, unknown>): Part => ({
  content: { $case: 'data', value },
  mediaType: 'application/json',
  filename: '',
  metadata: undefined,
});
const agentMessage = (parts: Part[], contextId: string, taskId = ''): Message => ({
  messageId: randomUUID(),
  contextId,
  taskId,
  role: Role.ROLE_AGENT,
  parts,
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});
const userRequest = (
  parts: Part[],
  opts: { contextId?: string; metadata?: Record<string, unknown> } = {},
): SendMessageRequest => ({
  tenant: '',
  message: {
    messageId: randomUUID(),
    contextId: opts.contextId ?? '', // '' => server generates one
    taskId: '',
    role: Role.ROLE_USER,
    parts,
    metadata: opts.metadata,
    extensions: [],
    referenceTaskIds: [],
  },
  configuration: undefined, // or { acceptedOutputModes, historyLength, returnImmediately, taskPushNotificationConfig }
  metadata: undefined,
});

// ---------------------------------------------------------------------------
// Auth: express middleware (401 before A2A) + UserBuilder -> ServerCallContext.user
// ---------------------------------------------------------------------------
const TOKENS: Record<string, string> = { 'secret-alice': 'alice', 'secret-bob': 'bob' };

class TokenUser implements User {
  constructor(private readonly name: string) {}
  get isAuthenticated() { return true; }
  get userName() { return this.name; }
}

function requireBearer(req: Request, res: Response, next: NextFunction) {
  if (req.method !== 'POST') return next(); // cards stay public (GET)
  const m = /^Bearer\s+(.+)$/i.exec(req.header('authorization') ?? '');
  const user = m ? TOKENS[m[1]!] : undefined;
  if (!user) {
    // NOTE: deliberately plain text, NOT JSON. The SDK client treats any JSON body with an `error` key as a
    // JSON-RPC error envelope and maps error.code to an A2A error class (e.g. -32001 => TaskNotFoundError,
    // missing code => JsonRpcTransportError "An unexpected error occurred."), which hides the 401.
    res.status(401).set('WWW-Authenticate', 'Bearer').type('text/plain').send('Unauthorized: missing or invalid bearer token');
    return;
  }
  res.locals.user = user; // hand-off to the UserBuilder
  next();
}
// UserBuilder = (req: express.Request) => Promise<User>
const userBuilder: UserBuilder = async (req) => new TokenUser(req.res!.locals.user as string);

// ---------------------------------------------------------------------------
// Executors
// ---------------------------------------------------------------------------
function describeIncoming(agent: string, ctx: RequestContext) {
  const msg = ctx.userMessage; // === ctx.request.message
  const texts: string[] = [];
  const datas: unknown[] = [];
  for (const p of msg.parts) {
    switch (p.content?.$case) {
      case 'text': texts.push(p.content.value); break;
      case 'data': datas.push(p.content.value); break;
      case 'url': case 'raw': default: break;
    }
  }
  console.log(`  [server:${agent}] user=${ctx.context.user?.userName} authenticated=${ctx.context.user?.isAuthenticated}` +
    ` taskId=${ctx.taskId} contextId=${ctx.contextId} (msg.contextId=${JSON.stringify(msg.contextId)})` +
    ` texts=${JSON.stringify(texts)} data=${JSON.stringify(datas)} msg.metadata=${JSON.stringify(msg.metadata)}` +
    ` A2A-Version=${ctx.context.requestedVersion}`);
  return { texts, datas, msg };
}

/** Summarizer: non-stream => Message with data+text part; stream => Task + artifact chunks + completed. */
class SummarizerExecutor implements AgentExecutor {
  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { texts, datas, msg } = describeIncoming('summarizer', ctx);
    const input = texts.join(' ');
    const streaming = (msg.metadata as any)?.mode === 'stream'; // executor can't see which RPC was used; use metadata

    if (input.includes('boom')) {
      // Throwing from execute() => SDK publishes a FAILED task (not a JSON-RPC error)
      throw new Error('summarizer exploded on purpose');
    }

    if (!streaming) {
      bus.publish(AgentEvent.message(agentMessage(
        [dataPart({ words: input.split(/\s+/).filter(Boolean).length, echoedData: datas, user: ctx.context.user?.userName }),
         textPart(`summary: ${input.slice(0, 20)}...`)],
        ctx.contextId,
      )));
      bus.finished();
      return;
    }

    // Streaming: Task first (required), then artifact updates, then final status.
    const task: Task = {
      id: ctx.taskId,
      contextId: ctx.contextId,
      status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: new Date().toISOString() },
      artifacts: [],
      history: [msg],
      metadata: undefined,
    };
    bus.publish(AgentEvent.task(task));
    const chunks = ['The ', 'quick ', 'summary.'];
    for (let i = 0; i < chunks.length; i++) {
      await new Promise((r) => setTimeout(r, 20));
      bus.publish(AgentEvent.artifactUpdate({
        taskId: ctx.taskId,
        contextId: ctx.contextId,
        artifact: { artifactId: 'summary-1', name: 'summary', description: '', parts: [textPart(chunks[i]!)], metadata: undefined, extensions: [] },
        append: i > 0,
        lastChunk: i === chunks.length - 1,
        metadata: undefined,
      }));
    }
    bus.publish(AgentEvent.statusUpdate({
      taskId: ctx.taskId,
      contextId: ctx.contextId,
      status: { state: TaskState.TASK_STATE_COMPLETED, message: agentMessage([textPart('done')], ctx.contextId, ctx.taskId), timestamp: new Date().toISOString() },
      metadata: undefined,
    }));
    bus.finished();
  }
  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId: '', status: { state: TaskState.TASK_STATE_CANCELED, message: undefined, timestamp: new Date().toISOString() }, metadata: undefined }));
    bus.finished();
  }
}

/** Auditor: explicitly publishes a FAILED task for bad input (the idiomatic "agent-level" failure). */
class AuditorExecutor implements AgentExecutor {
  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { datas } = describeIncoming('auditor', ctx);
    const payload = (datas[0] ?? {}) as { amount?: number };
    const ok = typeof payload.amount === 'number' && payload.amount < 1000;
    const now = new Date().toISOString();
    bus.publish(AgentEvent.task({
      id: ctx.taskId, contextId: ctx.contextId,
      status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: now },
      artifacts: [], history: [ctx.userMessage], metadata: undefined,
    }));
    if (ok) {
      bus.publish(AgentEvent.artifactUpdate({
        taskId: ctx.taskId, contextId: ctx.contextId,
        artifact: { artifactId: 'audit', name: 'audit', description: '', parts: [dataPart({ approved: true, amount: payload.amount })], metadata: undefined, extensions: [] },
        append: false, lastChunk: true, metadata: undefined,
      }));
    }
    bus.publish(AgentEvent.statusUpdate({
      taskId: ctx.taskId, contextId: ctx.contextId,
      status: {
        state: ok ? TaskState.TASK_STATE_COMPLETED : TaskState.TASK_STATE_FAILED,
        message: agentMessage([textPart(ok ? 'approved' : `rejected: amount ${payload.amount} too large`)], ctx.contextId, ctx.taskId),
        timestamp: now,
      },
      metadata: undefined,
    }));
    bus.finished();
  }
  async cancelTask(): Promise<void> {}
}

/** Protocol-level error: throw an A2AError from the request handler => JSON-RPC error envelope. */
class GuardedRequestHandler extends DefaultRequestHandler {
  override async sendMessage(params: SendMessageRequest, context: Parameters<DefaultRequestHandler['sendMessage']>[1]) {
    if ((params.message?.metadata as any)?.forbidden) {
      throw new UnsupportedOperationError('this agent refuses forbidden messages');
    }
    return super.sendMessage(params, context);
  }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------
function makeCard(baseUrl: string, prefix: string, name: string, skill: string): AgentCard {
  return {
    name,
    description: `${name} demo agent`,
    version: '0.1.0',
    supportedInterfaces: [
      // protocolVersion is REQUIRED: server validates the client's A2A-Version header against it.
      { url: `${baseUrl}${prefix}`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
    ],
    provider: { organization: 'demo', url: 'https://example.invalid' },
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {
      bearer: { scheme: { $case: 'httpAuthSecurityScheme', value: { scheme: 'Bearer', bearerFormat: 'opaque', description: 'demo token' } } },
    },
    securityRequirements: [{ schemes: { bearer: { list: [] } } }],
    defaultInputModes: ['text/plain', 'application/json'],
    defaultOutputModes: ['text/plain', 'application/json'],
    skills: [{ id: skill, name: skill, description: `${skill} skill`, tags: [skill], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: [],
  };
}

async function startServer() {
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const agents = [
    { prefix: '/a2a/summarizer', card: makeCard(baseUrl, '/a2a/summarizer', 'Summarizer', 'summarize'), exec: new SummarizerExecutor() },
    { prefix: '/a2a/auditor', card: makeCard(baseUrl, '/a2a/auditor', 'Auditor', 'audit'), exec: new AuditorExecutor() },
  ];
  for (const a of agents) {
    const handler = new GuardedRequestHandler(a.card, new InMemoryTaskStore(), a.exec);
    // Card first (public GET); then auth; then JSON-RPC (router handles POST "/")
    app.use(`${a.prefix}/.well-known/agent-card.json`, agentCardHandler({ agentCardProvider: handler }));
    app.use(a.prefix, requireBearer, jsonRpcHandler({ requestHandler: handler, userBuilder }));
  }
  return { server, baseUrl };
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------
const show = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'number' && _k === 'state' ? `${v} (${taskStateToJSON(v)})` : v));

function printStreamEvent(ev: StreamResponse, wire = false) {
  // StreamResponse.toJSON(ev) gives the exact wire (proto-JSON) form of the event
  if (wire) console.log(`    wire: ${JSON.stringify(StreamResponse.toJSON(ev))}`);
  const p = ev.payload;
  switch (p?.$case) {
    case 'task': console.log(`    task       id=${p.value.id} state=${taskStateToJSON(p.value.status!.state)}`); break;
    case 'message': console.log(`    message    ${show(p.value.parts)}`); break;
    case 'artifactUpdate': {
      const part = p.value.artifact?.parts[0];
      console.log(`    artifact   id=${p.value.artifact?.artifactId} append=${p.value.append} lastChunk=${p.value.lastChunk} text=${JSON.stringify(part?.content?.$case === 'text' ? part.content.value : part?.content)}`);
      break;
    }
    case 'statusUpdate': {
      const sm = p.value.status?.message?.parts[0]?.content;
      console.log(`    status     state=${taskStateToJSON(p.value.status!.state)} msg=${JSON.stringify(sm?.$case === 'text' ? sm.value : sm)}`);
      break;
    }
  }
}

/** fetch wrapper that logs the raw wire traffic (for documentation only). */
function wireLoggingFetch(label: string): typeof fetch {
  return async (input, init) => {
    const h = new Headers(init?.headers);
    console.log(`  [wire ${label}] --> ${init?.method ?? 'GET'} ${input} A2A-Version=${h.get('A2A-Version')} Authorization=${h.get('Authorization')}`);
    if (init?.body) console.log(`  [wire ${label}]     body: ${init.body}`);
    const res = await fetch(input, init);
    if (res.headers.get('content-type')?.startsWith('application/json')) {
      const txt = await res.clone().text();
      console.log(`  [wire ${label}] <-- ${res.status} ${txt.slice(0, 600)}`);
    } else {
      console.log(`  [wire ${label}] <-- ${res.status} ${res.headers.get('content-type')}`);
    }
    return res;
  };
}

async function main() {
  const { server, baseUrl } = await startServer();
  console.log(`server on ${baseUrl}`);
  try {
    // --- (A) Summarizer: auth via custom fetch (createAuthenticatingFetchWithRetry) ---
    const authFetch = createAuthenticatingFetchWithRetry(wireLoggingFetch('summarizer'), {
      headers: async () => ({ Authorization: 'Bearer secret-alice' }),
      shouldRetryWithHeaders: async () => undefined, // e.g. refresh token on 401 and return new headers
    });
    const summarizerFactory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl: authFetch })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl: fetch }),
    }));
    const summarizerCardUrl = `${baseUrl}/a2a/summarizer/.well-known/agent-card.json`;
    // Full card URL + '' path (otherwise it appends /.well-known/agent-card.json to baseUrl)
    const summarizer: Client = await summarizerFactory.createFromUrl(summarizerCardUrl, '');
    const card = await summarizer.getAgentCard();
    console.log('\n== card (summarizer) ==');
    console.log('  raw JSON:', await (await fetch(summarizerCardUrl)).text());
    console.log(`  parsed: name=${card.name} url=${card.supportedInterfaces[0]?.url} streaming=${card.capabilities?.streaming} skills=${card.skills.map((s) => s.id)}`);

    console.log('\n== SendMessage (summarizer, non-streaming) ==');
    const res = await summarizer.sendMessage(userRequest(
      [textPart('please summarize this long text about things'), dataPart({ lang: 'en', max: 20 })],
      { contextId: 'ctx-123', metadata: { traceId: 't-1' } },
    ));
    if ('messageId' in res) {
      console.log('  got Message:', show(res));
      for (const p of res.parts) {
        if (p.content?.$case === 'data') console.log('  data part ->', p.content.value);
        if (p.content?.$case === 'text') console.log('  text part ->', p.content.value);
      }
    } else {
      console.log('  got Task:', show(res));
    }

    console.log('\n== SendStreamingMessage (summarizer) ==');
    for await (const ev of summarizer.sendMessageStream(userRequest([textPart('stream it please')], { metadata: { mode: 'stream' } }))) {
      printStreamEvent(ev, true);
    }

    // --- (B) Auditor: auth via CallInterceptor (serviceParameters become HTTP headers) ---
    const bearerInterceptor: CallInterceptor = {
      async before(args: BeforeArgs) {
        args.options!.serviceParameters!['Authorization'] = 'Bearer secret-bob';
      },
      async after() {},
    };
    const auditorFactory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      clientConfig: { interceptors: [bearerInterceptor] },
    }));
    const auditor = await auditorFactory.createFromUrl(`${baseUrl}/a2a/auditor/.well-known/agent-card.json`, '');
    console.log('\n== SendMessage (auditor, ok) ==');
    const ok = await auditor.sendMessage(userRequest([dataPart({ amount: 42 })]));
    console.log('  result:', show(ok));

    console.log('\n== SendStreamingMessage (auditor, explicit FAILED task) ==');
    for await (const ev of auditor.sendMessageStream(userRequest([dataPart({ amount: 5000 })]))) printStreamEvent(ev);

    // --- (C) Errors ---
    console.log('\n== executor throws (summarizer, non-streaming) -> FAILED Task, no JSON-RPC error ==');
    const failed = await summarizer.sendMessage(userRequest([textPart('boom')]));
    console.log('  result:', show(failed));

    console.log('\n== executor throws (summarizer, streaming) ==');
    for await (const ev of summarizer.sendMessageStream(userRequest([textPart('boom')], { metadata: { mode: 'stream' } }))) printStreamEvent(ev);

    console.log('\n== request handler throws A2AError -> JSON-RPC error ==');
    try {
      await summarizer.sendMessage(userRequest([textPart('hi')], { metadata: { forbidden: true } }));
    } catch (e) {
      const err = e as A2AError;
      console.log(`  caught ${err.constructor.name} name=${err.name} message=${JSON.stringify(err.message)} reason=${err.reason}` +
        ` instanceof UnsupportedOperationError=${e instanceof UnsupportedOperationError} isJsonRpcError=${isJsonRpcError(e)}` +
        ` envelopeCode=${isJsonRpcError(e) ? e.envelopeCode : '-'} data=${JSON.stringify(isJsonRpcError(e) ? e.data : undefined)}`);
    }

    console.log('\n== no token -> 401 from express middleware ==');
    const noAuth = await new ClientFactory().createFromUrl(`${baseUrl}/a2a/auditor/.well-known/agent-card.json`, '');
    try {
      await noAuth.sendMessage(userRequest([textPart('hi')]));
    } catch (e) {
      console.log(`  caught ${(e as Error).constructor.name}: ${(e as Error).message}`);
    }
    try {
      for await (const ev of noAuth.sendMessageStream(userRequest([textPart('hi')]))) printStreamEvent(ev);
    } catch (e) {
      console.log(`  (stream) caught ${(e as Error).constructor.name}: ${(e as Error).message}`);
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

main().catch((e) => { console.error('FATAL', e); process.exit(1); });
