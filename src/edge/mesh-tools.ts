import type { AgentRecord, Skill } from '../core/agent-record.js';
import { runWithContext } from '../core/call-context.js';
import { Code, MeshError, codeName, quote } from '../core/errors.js';
import { authorize, entitledTypes } from '../core/policy.js';
import type { EndpointCache } from '../data-plane/endpoint-cache.js';
import type { MeshClient } from '../data-plane/mesh-client.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';

/** A JSON Schema of an object: what MCP requires a tool's input schema (and an output schema) to be. */
export interface ObjectSchema {
  type: 'object';
  [keyword: string]: unknown;
}

/**
 * One tool: a skill of the mesh's agents that the identity may call. Several agents (of one or several types)
 * offering a skill of the same id are one tool, called on any of them with the mesh's balancing and failover.
 */
export interface MeshTool {
  /** The tool's name: the skill id, with `/` (which MCP tool names do not allow) as `.`. */
  name: string;
  skillId: string;
  title: string;
  description: string;
  inputSchema: ObjectSchema;
  /** Only for a skill whose output schema describes an object (MCP's structured content is an object). */
  outputSchema?: ObjectSchema;
  /**
   * True when the skill's input is not an object (a string, an array...): the tool then takes it as its argument
   * `input`, and the skill receives that value.
   */
  wrapsInput: boolean;
  /** The agent types offering the skill that the identity may call it on, sorted. */
  types: string[];
  /** A streamed skill: a call gathers its chunks into one answer. */
  streaming: boolean;
  /** The skill as the first agent offering it describes it (tags, examples, media types). */
  skill: Skill;
}

/** The content of a tool's answer, in MCP's shapes. */
export type ToolContent =
  | { type: 'text'; text: string }
  | { type: 'image' | 'audio'; data: string; mimeType: string }
  | { type: 'resource'; resource: { uri: string; mimeType: string; blob: string } };

/** A tool's answer (MCP's `CallToolResult`): an error is a result with `isError`, carrying the mesh's message. */
export interface ToolResult {
  content: ToolContent[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  _meta?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Options of a tool call from outside the mesh. */
export interface ToolCallOptions {
  /** The caller's W3C traceparent (MCP's `_meta.traceparent`): the mesh call continues that trace. */
  traceparent?: string;
  /** The conversation the call belongs to (A2A's `contextId`): consistent-hash routing keeps it on one instance. */
  conversationId?: string;
  timeoutMs?: number;
}

/** Options of {@link MeshTools}. */
export interface MeshToolsOptions {
  identity: MeshIdentity;
  /** An endpoint cache following the whole registry (no scope): the tools are every agent's skills. */
  cache: EndpointCache;
  mesh: MeshClient;
  /** Deadline of a tool call (default 30 s). */
  timeoutMs?: number;
}

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const JSON_CONTENT = /^application\/(json|[^;]*\+json)(;|$)/i;

/**
 * The mesh's skills as tools, for the protocols at the mesh's edge (MCP's `tools/list` and `tools/call`): every
 * skill on the cards of the registry's healthy agents that the identity's policies allow it to invoke, and a call
 * of one through `callTool` with the identity as the caller. The list follows the registry and the policies:
 * {@link MeshTools.onChange} tells when it changed.
 */
export class MeshTools {
  private tools = new Map<string, MeshTool>();
  private signature = '';
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribe: () => void;

  constructor(private readonly options: MeshToolsOptions) {
    this.refresh();
    this.unsubscribe = options.cache.onChange((change) => {
      if (change !== 'load' && this.refresh()) for (const listener of this.listeners) listener();
    });
  }

  /** The tools now, by name. */
  list(): MeshTool[] {
    return [...this.tools.values()];
  }

  get(name: string): MeshTool | undefined {
    return this.tools.get(name);
  }

  /** Calls `listener` whenever the list changes (a tool added or removed, or one's description or schemas). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls the tool `name` with `args` (its arguments object) as the identity, through the mesh's balancing and
   * failover, with the caller's trace; a streamed skill's chunks are gathered into one answer. A failed call is a
   * result with `isError` and the mesh's status and message.
   * @throws MeshError NOT_FOUND for a tool that is not listed (unknown, gone, or not allowed to the identity).
   */
  async call(name: string, args: Record<string, unknown> | undefined, options: ToolCallOptions = {}) {
    const tool = this.tools.get(name);
    if (!tool) {
      throw new MeshError(
        Code.NOT_FOUND,
        `no tool ${quote(name)}: no healthy agent offers that skill to ${this.options.identity.spiffeId.uri} (list the tools again)`,
      );
    }
    const input = tool.wrapsInput ? args?.input : (args ?? {});
    const parts: Buffer[] = [];
    let contentType = '';
    let meta: Record<string, unknown> = {};
    try {
      for await (const chunk of this.chunks(tool, input, options)) {
        parts.push(chunk.payload);
        contentType ||= chunk.contentType;
        meta = chunk.meta;
      }
    } catch (error) {
      const failure = MeshError.from(error);
      return {
        isError: true,
        content: [{ type: 'text', text: `${codeName(failure.code)}: ${failure.message}` }],
      } satisfies ToolResult;
    }
    if (tool.streaming) meta = { ...meta, 'agentmesh/chunks': parts.length };
    return toolResult(tool, { payload: Buffer.concat(parts), contentType, meta });
  }

  /**
   * The answer of a tool's skill to `input` (a JSON value) as it comes: one chunk for a unary skill, each chunk
   * of a streamed one. Called as the identity, with the caller's trace and conversation; `type` narrows the agents
   * to one type (by default, the types the identity may call the skill on).
   * @throws MeshError as the mesh's calls do.
   */
  async *chunks(tool: MeshTool, input: unknown, options: ToolCallOptions & { type?: string } = {}) {
    const { mesh } = this.options;
    const payload = Buffer.from(JSON.stringify(input ?? null));
    const traceparent =
      options.traceparent && TRACEPARENT.test(options.traceparent) ? options.traceparent : undefined;
    const within = <T>(work: () => T): T =>
      traceparent ? runWithContext({ chain: [], traceparent }, work) : work();
    const callOptions = {
      contentType: 'application/json',
      timeoutMs: options.timeoutMs ?? this.options.timeoutMs ?? 30_000,
      // A conversation stays on one instance: consistent hashing on its id.
      ...(options.conversationId
        ? {
            conversationId: options.conversationId,
            key: options.conversationId,
            balancer: 'consistent-hash' as const,
          }
        : {}),
    };
    // Only the types the identity may call: another type's agents would refuse it.
    const type = options.type ?? (tool.types.length === 1 ? tool.types[0] : undefined);
    const target = type ? { type } : {};
    if (!tool.streaming) {
      const answer = await within(() => mesh.callTool(tool.skillId, payload, { ...callOptions, target }));
      const meta = { 'agentmesh/agent': answer.agent.id, 'agentmesh/traceId': answer.traceId };
      yield { payload: answer.payload, contentType: answer.contentType, meta };
      return;
    }
    // A generator's steps run in the context of whoever asks for them: each one in the caller's trace.
    const stream = mesh.stream({ ...target, skill: tool.skillId }, tool.skillId, payload, callOptions);
    try {
      for (;;) {
        const step = await within(() => stream.next());
        if (step.done) return;
        yield { ...step.value, meta: {} as Record<string, unknown> };
      }
    } finally {
      await stream.return(undefined);
    }
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  /** Recomputes the tools from the cache; true when they changed. */
  private refresh(): boolean {
    const { cache, identity } = this.options;
    const policies = cache.policies;
    const caller = identity.spiffeId.uri;
    const callerTypes = entitledTypes(policies, { uri: caller, agentTypes: identity.agentTypes });
    const offers = new Map<string, Array<{ record: AgentRecord; skill: Skill }>>();
    for (const record of cache.all()) {
      if (record.health !== 'healthy') continue;
      for (const skill of record.spec.skills) {
        const allowed = authorize(policies, {
          action: 'invoke',
          caller,
          callerTypes,
          targetType: record.spec.type,
          method: skill.id,
        }).allowed;
        if (!allowed) continue;
        let list = offers.get(skill.id);
        if (!list) offers.set(skill.id, (list = []));
        list.push({ record, skill });
      }
    }
    const tools = new Map<string, MeshTool>();
    for (const skillId of [...offers.keys()].sort()) {
      const list = offers.get(skillId)!.sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
      const tool = toTool(list[0]!.skill, [...new Set(list.map((offer) => offer.record.spec.type))].sort());
      // Two skill ids that differ only by `/` and `.` would share a name: the first (in id order) keeps it.
      if (!tools.has(tool.name)) tools.set(tool.name, tool);
    }
    const signature = JSON.stringify([...tools.values()]);
    this.tools = tools;
    if (signature === this.signature) return false;
    this.signature = signature;
    return true;
  }
}

/** The tool of a skill (described as the first agent offering it describes it). */
function toTool(skill: Skill, types: string[]): MeshTool {
  const input = parseSchema(skill.inputSchema);
  const output = parseSchema(skill.outputSchema);
  const wrapsInput = input !== undefined && !isObjectSchema(input);
  const description = skill.description || skill.name || skill.id;
  const examples = skill.examples.length > 0 ? `\nExamples: ${skill.examples.join(' ; ')}` : '';
  return {
    name: skill.id.replaceAll('/', '.'),
    skillId: skill.id,
    title: skill.name || skill.id,
    description: `${description}${examples}`,
    inputSchema: wrapsInput
      ? { type: 'object', properties: { input }, required: ['input'] }
      : ((input as ObjectSchema | undefined) ?? { type: 'object' }),
    ...(isObjectSchema(output) ? { outputSchema: output } : {}),
    wrapsInput,
    types,
    streaming: skill.streaming === true,
    skill,
  };
}

function parseSchema(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // registration checks schemas; a record written before that is read as none
  }
}

function isObjectSchema(schema: unknown): schema is ObjectSchema {
  return typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'object';
}

/** What a call of a tool answered: the bytes, their media type, and what to tell the client about it. */
interface Answer {
  payload: Buffer;
  contentType: string;
  meta: Record<string, unknown>;
}

/**
 * An agent's answer as a tool result: JSON as text (and as structured content for an object schema), text as
 * text, media as media.
 */
function toolResult(tool: MeshTool, answer: Answer): ToolResult {
  const { payload, contentType, meta } = answer;
  const type = contentType || 'application/json';
  if (JSON_CONTENT.test(type)) {
    const text = payload.toString();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
    if (tool.outputSchema && !isObject) {
      return {
        isError: true,
        content: [
          {
            type: 'text',
            text: `INTERNAL: the answer of ${tool.skillId} is no JSON object, which its output schema promises: ${text.slice(0, 200)}`,
          },
        ],
        _meta: meta,
      };
    }
    return {
      content: [{ type: 'text', text }],
      ...(tool.outputSchema ? { structuredContent: value as Record<string, unknown> } : {}),
      _meta: meta,
    };
  }
  if (type.startsWith('text/')) return { content: [{ type: 'text', text: payload.toString() }], _meta: meta };
  const data = payload.toString('base64');
  const mimeType = type.split(';')[0]!.trim();
  if (mimeType.startsWith('image/') || mimeType.startsWith('audio/')) {
    return {
      content: [{ type: mimeType.startsWith('image/') ? 'image' : 'audio', data, mimeType }],
      _meta: meta,
    };
  }
  return {
    content: [
      {
        type: 'resource',
        resource: { uri: `agentmesh:skill/${tool.skillId}`, mimeType, blob: data },
      },
    ],
    _meta: meta,
  };
}
