import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { toSkill, type SkillOptions } from '../agent/agent-options.js';
import type { InvocationContext, InvocationPayload } from '../agent/agent-service.js';
import { validateSkills } from '../core/agent-record.js';
import { Code, MeshError, quote } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

/** An outside server adapted into the mesh: the skills an agent registers for it, and how to let it go. */
export interface AdaptedServer {
  /** What the outside server says it is, for the agent's description. */
  description: string;
  skills: SkillOptions[];
  /** Resolves when the outside server went away (an MCP server on stdio that exited); never for HTTP ones. */
  gone: Promise<string>;
  close(): Promise<void>;
}

/** Where the MCP server is: a command to spawn (stdio) or a Streamable HTTP URL. */
export type McpTarget =
  | { command: string; args: string[]; env?: Record<string, string> }
  | { url: string; headers?: Record<string, string> };

/** The most tools one adapter registers as skills (an agent's card holds at most 64). */
const MAX_TOOLS = 64;

/**
 * Connects to an MCP server as its client and makes each of its tools a skill: same name, description and
 * schemas; the skill's handler calls the tool with the request's JSON object as its arguments and answers with
 * the tool's structured content (JSON), else its text (text/plain), else its first image or audio (base64
 * decoded). A tool that answers `isError` fails the call with UNKNOWN and the tool's text; a protocol error with
 * INVALID_ARGUMENT; a server that is gone with UNAVAILABLE. Tools whose names or schemas a skill cannot carry are
 * left out with a warning. The tool list is read once: `onToolsChanged` is told when the server says it changed.
 * @throws MeshError UNAVAILABLE when the server cannot be started or reached, or lists no usable tool.
 */
export async function connectMcpServer(
  target: McpTarget,
  options: { logger: Logger; onToolsChanged?: () => void },
): Promise<AdaptedServer> {
  const { logger } = options;
  const where = 'url' in target ? target.url : [target.command, ...target.args].join(' ');
  const transport: Transport =
    'url' in target
      ? new StreamableHTTPClientTransport(new URL(target.url), {
          requestInit: { headers: target.headers ?? {} },
        })
      : new StdioClientTransport({
          command: target.command,
          args: target.args,
          env: { ...getDefaultEnvironment(), ...target.env },
          stderr: 'inherit',
        });
  const client = new Client({ name: 'agent-mesh-adapter', version: '0.1.0' });
  let closing = false;
  const gone = new Promise<string>((resolve) => {
    client.onclose = () => {
      if (!closing) resolve(`the MCP server ${quote(where)} closed the connection`);
    };
  });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new MeshError(
      Code.UNAVAILABLE,
      `cannot start or reach the MCP server ${quote(where)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    logger.warn({ server: where }, 'the MCP server changed its tools; restart the adapter to register them');
    options.onToolsChanged?.();
  });
  const tools: Tool[] = [];
  try {
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor && tools.length < MAX_TOOLS * 4);
  } catch (error) {
    await client.close().catch(() => undefined);
    throw new MeshError(
      Code.UNAVAILABLE,
      `the MCP server ${quote(where)} did not list its tools: ${(error as Error).message}`,
    );
  }
  const skills: SkillOptions[] = [];
  const validator = new AjvJsonSchemaValidator();
  for (const tool of tools) {
    if (skills.length === MAX_TOOLS) {
      logger.warn({ server: where, tools: tools.length }, `only the first ${MAX_TOOLS} tools are registered`);
      break;
    }
    // Arguments are checked here, against the tool's input schema, so that a wrong one is INVALID_ARGUMENT.
    let argumentsCheck: JsonSchemaValidator<unknown> | undefined;
    try {
      argumentsCheck = validator.getValidator(tool.inputSchema as JsonSchemaType);
    } catch (error) {
      logger.warn(
        { server: where, tool: tool.name, err: error },
        "the MCP tool's input schema does not compile; arguments go unchecked",
      );
    }
    const skill: SkillOptions = {
      id: tool.name,
      name: tool.title ?? tool.annotations?.title ?? tool.name,
      description: (tool.description ?? '').slice(0, 2048),
      tags: ['mcp'],
      inputSchema: tool.inputSchema,
      ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
      handler: (request, call) => callTool(client, tool.name, argumentsCheck, request, call),
    };
    // A skill must fit a card: a tool that does not (its name, or schemas over 16 KiB) is left out, said so.
    const checked = validateSkills([toSkill(skill)]);
    if (!checked.ok) {
      const bare = validateSkills([
        toSkill({ id: skill.id, name: skill.name, description: skill.description }),
      ]);
      if (!bare.ok) {
        logger.warn({ server: where, tool: tool.name, reason: checked.error.message }, 'MCP tool left out');
        continue;
      }
      logger.warn(
        { server: where, tool: tool.name, reason: checked.error.message },
        'MCP tool registered without its schemas',
      );
      delete skill.inputSchema;
      delete skill.outputSchema;
    }
    skills.push(skill);
  }
  if (skills.length === 0) {
    await client.close().catch(() => undefined);
    throw new MeshError(
      Code.UNAVAILABLE,
      `the MCP server ${quote(where)} offers no tool a mesh skill can carry`,
    );
  }
  const info = client.getServerVersion();
  return {
    description:
      `MCP server ${info?.title ?? info?.name ?? where}${info?.version ? ` ${info.version}` : ''}`.slice(
        0,
        1024,
      ),
    skills,
    gone,
    close: () => {
      closing = true;
      return client.close();
    },
  };
}

/** Calls one tool for a mesh call: the request's JSON object as its arguments, within the call's deadline. */
async function callTool(
  client: Client,
  name: string,
  check: JsonSchemaValidator<unknown> | undefined,
  request: InvocationPayload,
  call: InvocationContext,
): Promise<InvocationPayload> {
  let args: unknown;
  try {
    args = request.payload.length === 0 ? {} : JSON.parse(request.payload.toString());
  } catch {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `the MCP tool ${name} takes a JSON object of arguments; this is not JSON`,
    );
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new MeshError(Code.INVALID_ARGUMENT, `the MCP tool ${name} takes a JSON object of arguments`);
  }
  const checked = check?.(args);
  if (checked && !checked.valid) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `the arguments of the MCP tool ${name} do not match its input schema: ${checked.errorMessage}`,
    );
  }
  const timeout = Number.isFinite(call.deadline) ? Math.max(1, call.deadline - Date.now()) : 60_000;
  let result: Awaited<ReturnType<Client['callTool']>>;
  try {
    result = await client.callTool({ name, arguments: args as Record<string, unknown> }, undefined, {
      timeout,
      ...(call.signal ? { signal: call.signal } : {}),
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = (error as Error).message;
    if (code === -32602) throw new MeshError(Code.INVALID_ARGUMENT, message);
    if (code === -32001)
      throw new MeshError(Code.DEADLINE_EXCEEDED, `the MCP tool ${name} did not answer in time`);
    throw new MeshError(Code.UNAVAILABLE, `the MCP server failed the call of ${name}: ${message}`);
  }
  const content = Array.isArray(result.content) ? (result.content as Array<Record<string, unknown>>) : [];
  const texts = content.filter((part) => part.type === 'text').map((part) => String(part.text));
  if (result.isError) {
    throw new MeshError(
      Code.UNKNOWN,
      `the MCP tool ${name} failed: ${texts.join('\n') || 'no reason given'}`,
    );
  }
  if (result.structuredContent !== undefined) {
    return {
      payload: Buffer.from(JSON.stringify(result.structuredContent)),
      contentType: 'application/json',
    };
  }
  if (texts.length > 0 || content.length === 0) {
    return { payload: Buffer.from(texts.join('\n')), contentType: 'text/plain' };
  }
  const media = content.find((part) => part.type === 'image' || part.type === 'audio');
  if (media && typeof media.data === 'string') {
    return {
      payload: Buffer.from(media.data, 'base64'),
      contentType: String(media.mimeType ?? 'application/octet-stream'),
    };
  }
  return { payload: Buffer.from(JSON.stringify(content)), contentType: 'application/json' };
}
