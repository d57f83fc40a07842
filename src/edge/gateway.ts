import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { ControlPlaneClient } from '../control-plane/client.js';
import { Code, MeshError, quote } from '../core/errors.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { MeshClient } from '../data-plane/mesh-client.js';
import { loadIdentity } from '../identity/certs-dir.js';
import { hostAllowed, loopbackName, parseListenAddress, pathOf } from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import { MeshIdentity } from '../transport/mesh-identity.js';
import { createA2aRoutes } from './a2a-gateway.js';
import { GatewayTokens } from './gateway-tokens.js';
import { createMcpServer } from './mcp-server.js';
import { MeshTools } from './mesh-tools.js';

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** The gateway's own identity: it follows the registry with it. */
  identity: MeshIdentity;
  controlPlane: string;
  /** The certificate directory: the trust bundle, the identities tokens map to, and the token file. */
  certsDir: string;
  /** `host:port` to serve HTTP on (port 0: a free port). */
  listen: string;
  /** The bearer tokens (default: {@link GatewayTokens} of `certsDir`). */
  tokens?: GatewayTokens;
  /**
   * The identity unauthenticated requests act as; none by default (they get 401). Only on a loopback address:
   * anyone who can reach the port would otherwise act as it.
   */
  anonymous?: string;
  logger: Logger;
  /** Deadline of each call into the mesh (default 30 s). */
  timeoutMs?: number;
  /** MCP sessions open at most (default 1,000): a new one beyond it gets 503. */
  maxSessions?: number;
  /** The version the MCP server reports. */
  version: string;
}

/** A running gateway. */
export interface RunningGateway {
  /** `host:port` it listens on. */
  address: string;
  /** Its base URL, `http://host:port`. */
  url: string;
  close(): Promise<void>;
}

/** An outside client, authenticated: the mesh identity it acts as, with that identity's mesh client and tools. */
export interface GatewayCaller {
  /** The identity name (`<name>.crt` in the certificate directory). */
  name: string;
  /** The token it presented (its public id), or `anonymous`. */
  via: string;
  identity: MeshIdentity;
  mesh: MeshClient;
  tools: MeshTools;
  logger: Logger;
}

/** The most bytes of one request body. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Identities (outside callers) the gateway keeps clients for at once. */
const MAX_CALLERS = 1_024;

/**
 * The mesh's edge for clients outside it, over HTTP: MCP's Streamable HTTP transport at `/mcp` (the mesh's skills
 * as tools, as `agent-mesh mcp` offers them on stdio) and A2A at `/a2a/<type>` (see a2a-gateway.ts). Every request
 * is authenticated with a bearer token that an administrator issued and mapped to a mesh identity
 * ({@link GatewayTokens}): 401 without one. The gateway calls into the mesh as that identity, over mTLS with its
 * certificate, so the policies, rate limits and priority grants of that identity apply to the outside client, and
 * every call is logged with it. Bound to loopback, it answers only requests addressed to a loopback name.
 * @throws MeshError INVALID_ARGUMENT for a malformed address, or anonymous access off loopback.
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const parsed = parseListenAddress(options.listen);
  if (!parsed.ok) throw parsed.error;
  const { host, port } = parsed.value;
  if (options.anonymous !== undefined && !loopbackName(host)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `anonymous access is allowed only on a loopback address, not ${quote(options.listen)}: give clients tokens (agent-mesh gateway token create)`,
    );
  }
  const { logger } = options;
  const tokens = options.tokens ?? new GatewayTokens(options.certsDir);
  const control = new ControlPlaneClient({ address: options.controlPlane, identity: options.identity });
  const cache = new EndpointCache({ client: control, logger });
  await cache.start();
  const callers = new Map<string, Promise<GatewayCaller>>();
  const sessions = new Map<
    string,
    { transport: StreamableHTTPServerTransport; server: McpServer; caller: string }
  >();
  const maxSessions = options.maxSessions ?? 1_000;
  let url = '';
  const a2a = createA2aRoutes({ url: () => url, cache, logger, version: options.version });

  const callerOf = (name: string, via: string): Promise<GatewayCaller> => {
    const key = `${name}\n${via}`;
    let caller = callers.get(key);
    if (!caller) {
      if (callers.size >= MAX_CALLERS) {
        const [oldest] = callers.keys();
        void callers
          .get(oldest!)!
          .then((old) => closeCaller(old))
          .catch(() => undefined);
        callers.delete(oldest!);
      }
      caller = (async () => {
        let identity: MeshIdentity;
        try {
          identity = new MeshIdentity(await loadIdentity(options.certsDir, name));
        } catch (error) {
          throw new MeshError(
            Code.FAILED_PRECONDITION,
            `the gateway holds no certificate for ${quote(name)}, the identity of token ${via}: ${(error as Error).message}`,
          );
        }
        const mesh = new MeshClient({ identity, cache, logger });
        const tools = new MeshTools({
          identity,
          cache,
          mesh,
          ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
        });
        return { name, via, identity, mesh, tools, logger: logger.child({ caller: name, token: via }) };
      })();
      callers.set(key, caller);
      caller.catch(() => callers.delete(key));
    }
    return caller;
  };

  /** Who a request comes from, or undefined once it was answered with 401. */
  const authenticate = async (request: IncomingMessage, response: ServerResponse) => {
    const header = request.headers.authorization;
    if (header === undefined && options.anonymous !== undefined)
      return callerOf(options.anonymous, 'anonymous');
    const bearer = header && /^Bearer\s+(\S+)\s*$/i.exec(header);
    const verdict = bearer ? await tokens.verify(bearer[1]!) : undefined;
    if (!verdict?.ok) {
      const why = verdict ? verdict.why : 'no bearer token';
      logger.info({ path: pathOf(request.url), why }, 'gateway request refused');
      response.setHeader('www-authenticate', 'Bearer realm="agent-mesh"');
      sendError(
        response,
        401,
        `${why}: send Authorization: Bearer <token> (agent-mesh gateway token create)`,
      );
      return undefined;
    }
    return callerOf(verdict.token.identity, verdict.token.id);
  };

  const serveMcp = async (request: IncomingMessage, response: ServerResponse, caller: GatewayCaller) => {
    const sessionId = request.headers['mcp-session-id'];
    const body = request.method === 'POST' ? await readJson(request, response) : undefined;
    if (body === READ_FAILED) return;
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      if (!session || session.caller !== `${caller.name}\n${caller.via}`) {
        sendJsonRpcError(response, 404, -32001, 'no such MCP session: initialize a new one');
        return;
      }
      await session.transport.handleRequest(request, response, body);
      return;
    }
    if (request.method !== 'POST' || !isInitializeRequest(body)) {
      sendJsonRpcError(response, 400, -32000, 'no mcp-session-id: begin with an initialize request');
      return;
    }
    if (sessions.size >= maxSessions) {
      sendJsonRpcError(
        response,
        503,
        -32000,
        `the gateway has ${maxSessions} MCP sessions open; try again later`,
      );
      return;
    }
    const server = createMcpServer({
      tools: caller.tools,
      logger: caller.logger,
      identity: caller.identity.spiffeId.uri,
      version: options.version,
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, caller: `${caller.name}\n${caller.via}` });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(request, response, body);
  };

  const http = createServer((request, response) => {
    response.setHeader('x-content-type-options', 'nosniff');
    if (!hostAllowed(host, request.headers.host)) {
      sendError(response, 403, 'this gateway answers only requests addressed to localhost');
      return;
    }
    const path = pathOf(request.url);
    if (path === undefined) {
      sendError(response, 400, 'malformed request target');
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    void (async () => {
      const caller = await authenticate(request, response);
      if (!caller) return;
      if (path === '/mcp') return serveMcp(request, response, caller);
      if (path === '/a2a' || path.startsWith('/a2a/')) return a2a.serve(request, response, path, caller);
      sendError(response, 404, `no such endpoint: ${path} (MCP is at /mcp, A2A agents are listed at /a2a)`);
    })().catch((error: unknown) => {
      const failure = MeshError.from(error);
      logger.warn({ err: error, path }, 'gateway request failed');
      if (!response.headersSent)
        sendError(response, failure.code === Code.FAILED_PRECONDITION ? 503 : 500, failure.message);
      else response.end();
    });
  });
  http.headersTimeout = 30_000;
  http.requestTimeout = 0; // streams (SSE) stay open as long as the client reads
  await new Promise<void>((resolve, reject) => {
    http.once('error', (error) =>
      reject(
        new MeshError(Code.UNAVAILABLE, `cannot listen on ${options.listen}: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    http.listen(port, host, () => resolve());
  });
  const bound = (http.address() as AddressInfo).port;
  const address = `${host.includes(':') ? `[${host}]` : host}:${bound}`;
  url = `http://${address}`;

  const closeCaller = (caller: GatewayCaller) => {
    caller.tools.close();
    caller.mesh.close();
  };
  return {
    address,
    url,
    async close() {
      await Promise.all(
        [...sessions.values()].map((session) => session.server.close().catch(() => undefined)),
      );
      sessions.clear();
      a2a.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      for (const caller of callers.values()) await caller.then(closeCaller, () => undefined);
      cache.close();
      control.close();
    },
  };
}

const READ_FAILED = Symbol('read failed');

/** The JSON body of a request (at most {@link MAX_BODY_BYTES}); answers 413 or 400 and returns READ_FAILED otherwise. */
export async function readJson(request: IncomingMessage, response: ServerResponse): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      sendJsonRpcError(response, 413, -32600, `the request body is over ${MAX_BODY_BYTES} bytes`);
      request.destroy();
      return READ_FAILED;
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (error) {
    sendJsonRpcError(response, 400, -32700, `the request body is not JSON: ${(error as Error).message}`);
    return READ_FAILED;
  }
}

export { READ_FAILED };

/** An HTTP error as JSON: `{"error": "..."}`. */
export function sendError(response: ServerResponse, status: number, message: string): void {
  response
    .writeHead(status, { 'content-type': 'application/json' })
    .end(`${JSON.stringify({ error: message })}\n`);
}

/** A JSON-RPC error with no id (the request could not be read or routed), with an HTTP status. */
export function sendJsonRpcError(
  response: ServerResponse,
  status: number,
  code: number,
  message: string,
): void {
  response
    .writeHead(status, { 'content-type': 'application/json' })
    .end(`${JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } })}\n`);
}
