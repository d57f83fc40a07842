import { randomUUID } from 'node:crypto';
import { Role, TaskState, type Message, type Part, type Task } from '@a2a-js/sdk';
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  type CallInterceptor,
  type Client,
} from '@a2a-js/sdk/client';
import { toSkill, type SkillOptions } from '../agent/agent-options.js';
import type { InvocationContext, InvocationPayload } from '../agent/agent-service.js';
import { validateSkills } from '../core/agent-record.js';
import { Code, MeshError, quote } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import type { AdaptedServer } from './mcp-adapter.js';

const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,64}\/[A-Za-z0-9!#$&^_.+*-]{1,64}$/;
const MAX_SKILLS = 64;

/**
 * Connects to an A2A agent (its card's URL) with the A2A SDK's client and makes each skill on its card a mesh
 * skill; `token`, when given, is sent as `Authorization: Bearer` with every request (the card's too). A call of
 * the skill sends one message: the request's JSON object as a data part (a JSON string, or text, as a text part),
 * `metadata.skill` naming the skill, the call's conversation as the `contextId`. The answer is the reply's parts:
 * one data part as JSON, text as text/plain, bytes as they are; a task that fails, is rejected or canceled fails the
 * call with its status message (UNKNOWN, FAILED_PRECONDITION, CANCELLED), one that needs input or authentication
 * with FAILED_PRECONDITION.
 * @throws MeshError UNAVAILABLE when the card cannot be read, or names no skill a mesh skill can carry.
 */
export async function connectA2aAgent(
  cardUrl: string,
  options: { logger: Logger; token?: string },
): Promise<AdaptedServer> {
  const { logger, token } = options;
  const auth: CallInterceptor = {
    async before(args) {
      if (token && args.options?.serviceParameters)
        args.options.serviceParameters.Authorization = `Bearer ${token}`;
    },
    async after() {},
  };
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      clientConfig: { interceptors: [auth] },
      cardResolver: new DefaultAgentCardResolver({
        fetchImpl: (input, init) =>
          fetch(input, {
            ...init,
            headers: { ...(init?.headers as object), ...(token ? { authorization: `Bearer ${token}` } : {}) },
          }),
      }),
    }),
  );
  let client: Client;
  try {
    client = await factory.createFromUrl(cardUrl, '');
  } catch (error) {
    throw new MeshError(
      Code.UNAVAILABLE,
      `cannot read the A2A agent card at ${quote(cardUrl)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const card = await client.getAgentCard();
  const skills: SkillOptions[] = [];
  for (const skill of card.skills) {
    if (skills.length === MAX_SKILLS) {
      logger.warn({ card: cardUrl }, `only the first ${MAX_SKILLS} skills are registered`);
      break;
    }
    const media = (modes: readonly string[]) => modes.filter((mode) => MEDIA_TYPE.test(mode)).slice(0, 8);
    const options: SkillOptions = {
      id: skill.id,
      name: skill.name.slice(0, 200),
      description: skill.description.slice(0, 2048),
      tags: skill.tags.slice(0, 32),
      examples: skill.examples.slice(0, 8).map((example) => example.slice(0, 1024)),
      inputContentTypes: media(skill.inputModes),
      outputContentTypes: media(skill.outputModes),
      handler: (request, call) => send(client, skill.id, request, call),
    };
    const checked = validateSkills([toSkill(options)]);
    if (!checked.ok) {
      logger.warn({ card: cardUrl, skill: skill.id, reason: checked.error.message }, 'A2A skill left out');
      continue;
    }
    skills.push(options);
  }
  if (skills.length === 0) {
    throw new MeshError(
      Code.UNAVAILABLE,
      `the A2A agent at ${quote(cardUrl)} has no skill a mesh skill can carry`,
    );
  }
  return {
    description: `A2A agent ${card.name}: ${card.description}`.slice(0, 1024),
    skills,
    gone: new Promise<string>(() => undefined),
    close: async () => undefined,
  };
}

/** Sends one message for a mesh call of `skill`, and makes the reply the call's answer. */
async function send(
  client: Client,
  skill: string,
  request: InvocationPayload,
  call: InvocationContext,
): Promise<InvocationPayload> {
  const message: Message = {
    messageId: randomUUID(),
    contextId: call.context.conversationId ?? '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [partOf(request)],
    metadata: { skill },
    extensions: [],
    referenceTaskIds: [],
  };
  let reply: Message | Task;
  try {
    reply = await client.sendMessage(
      { tenant: '', message, configuration: undefined, metadata: undefined },
      call.signal ? { signal: call.signal } : undefined,
    );
  } catch (error) {
    throw new MeshError(
      Code.UNAVAILABLE,
      `the A2A agent failed the message for ${skill}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if ('messageId' in reply) return answerOf(reply.parts);
  const state = reply.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
  const said = (reply.status?.message?.parts ?? [])
    .map((part) => (part.content?.$case === 'text' ? part.content.value : ''))
    .join(' ');
  const failed = (code: Code, what: string) =>
    new MeshError(code, `the A2A agent's task for ${skill} ${what}${said ? `: ${said}` : ''}`);
  switch (state) {
    case TaskState.TASK_STATE_COMPLETED:
      return answerOf(reply.artifacts.flatMap((artifact) => artifact.parts));
    case TaskState.TASK_STATE_FAILED:
      throw failed(Code.UNKNOWN, 'failed');
    case TaskState.TASK_STATE_REJECTED:
      throw failed(Code.FAILED_PRECONDITION, 'was rejected');
    case TaskState.TASK_STATE_CANCELED:
      throw failed(Code.CANCELLED, 'was canceled');
    case TaskState.TASK_STATE_INPUT_REQUIRED:
    case TaskState.TASK_STATE_AUTH_REQUIRED:
      throw failed(Code.FAILED_PRECONDITION, 'needs more from the caller, which a mesh call cannot give');
    default:
      throw failed(Code.UNAVAILABLE, `ended in state ${state}`);
  }
}

/** A mesh request as a message part: a JSON object (or array, or number) as data, a string or text as text. */
function partOf(request: InvocationPayload): Part {
  const type = (request.contentType || 'application/json').split(';')[0]!.trim();
  if (/json$/i.test(type)) {
    let value: unknown;
    try {
      value = JSON.parse(request.payload.toString());
    } catch {
      value = request.payload.toString();
    }
    if (typeof value === 'string')
      return {
        content: { $case: 'text', value },
        mediaType: 'text/plain',
        filename: '',
        metadata: undefined,
      };
    const data = typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { value };
    return {
      content: { $case: 'data', value: data as Record<string, unknown> },
      mediaType: 'application/json',
      filename: '',
      metadata: undefined,
    };
  }
  if (type.startsWith('text/')) {
    return {
      content: { $case: 'text', value: request.payload.toString() },
      mediaType: type,
      filename: '',
      metadata: undefined,
    };
  }
  return {
    content: { $case: 'raw', value: request.payload },
    mediaType: type,
    filename: '',
    metadata: undefined,
  };
}

/** The answer of a reply's parts: one data part as JSON (several as a JSON array), text as text, bytes as bytes. */
function answerOf(parts: readonly Part[]): InvocationPayload {
  const data = parts.flatMap((part) => (part.content?.$case === 'data' ? [part.content.value] : []));
  if (data.length > 0) {
    return {
      payload: Buffer.from(JSON.stringify(data.length === 1 ? data[0] : data)),
      contentType: 'application/json',
    };
  }
  const texts = parts.flatMap((part) => (part.content?.$case === 'text' ? [part.content.value] : []));
  if (texts.length > 0) return { payload: Buffer.from(texts.join('')), contentType: 'text/plain' };
  const raw = parts.find((part) => part.content?.$case === 'raw');
  if (raw?.content?.$case === 'raw') {
    return {
      payload: Buffer.from(raw.content.value),
      contentType: raw.mediaType || 'application/octet-stream',
    };
  }
  return { payload: Buffer.alloc(0), contentType: 'text/plain' };
}
