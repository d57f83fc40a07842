import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { Code, MeshError, fail, ok, type Result, quote } from '../core/errors.js';
import type { Logger } from './logger.js';

/** Answers one HTTP request (GET or HEAD) for a path. */
export type HttpRoute = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** Options for {@link startHttpServer}. */
export interface HttpServerOptions {
  /** `host:port` to bind; default `127.0.0.1:0` (loopback, a free port). */
  listen?: string;
  /** Handlers by exact path, e.g. `/metrics`. */
  routes: Record<string, HttpRoute>;
  logger: Logger;
}

/** A running HTTP server for operators (metrics, dashboard). */
export interface RunningHttpServer {
  /** `host:port` it is bound to (the real port when asked for 0). */
  address: string;
  /** `http://host:port`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Parses `host:port` (a hostname, an IPv4 address or a bracketed IPv6 address; port 0 for a free one).
 * @returns INVALID_ARGUMENT naming the address and the expected form when it is malformed.
 */
export function parseListenAddress(listen: string): Result<{ host: string; port: number }> {
  const separator = listen.lastIndexOf(':');
  const rawHost = listen.slice(0, separator);
  const host = rawHost.replace(/^\[(.*)\]$/, '$1');
  const port = listen.slice(separator + 1);
  const hostOk = /^\[[0-9a-fA-F:.]+\]$/.test(rawHost) || /^[A-Za-z0-9.-]+$/.test(rawHost);
  if (separator <= 0 || !hostOk || !/^\d{1,5}$/.test(port) || Number(port) > 65_535) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid HTTP listen address ${quote(listen)}: use host:port, e.g. 127.0.0.1:9464`,
    );
  }
  return ok({ host, port: Number(port) });
}

const LOOPBACK_HOSTS = new Set(['localhost', '::1']);
const LOOPBACK_IPV4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** Whether `name` (a host name or address) is loopback: a server bound to it is reachable from this machine only. */
export function loopbackName(name: string): boolean {
  // *.localhost names resolve to loopback in browsers without asking DNS.
  return LOOPBACK_HOSTS.has(name) || LOOPBACK_IPV4.test(name) || name.endsWith('.localhost');
}

/**
 * Whether a request may be answered. A server bound to loopback answers only requests addressed to a loopback
 * name: a web page the operator visits could otherwise point its own hostname at 127.0.0.1 (DNS rebinding) and
 * read the answers.
 */
export function hostAllowed(bound: string, hostHeader: string | undefined): boolean {
  if (!loopbackName(bound)) return true;
  if (!hostHeader) return false;
  const name = hostHeader
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  return loopbackName(name);
}

/**
 * Starts a small read-only HTTP server for operators: the routes answer GET and HEAD, other methods get 405, other
 * paths 404; a route that throws answers 500 and the server keeps serving. Bound to loopback, it answers only
 * requests addressed to a loopback name (403 otherwise). Answers carry `X-Content-Type-Options: nosniff`.
 * @throws MeshError INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be bound.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const listen = options.listen ?? '127.0.0.1:0';
  const parsed = parseListenAddress(listen);
  if (!parsed.ok) throw parsed.error;
  const { host, port } = parsed.value;
  const server = createServer((request, response) => {
    response.setHeader('x-content-type-options', 'nosniff');
    if (!hostAllowed(host, request.headers.host)) {
      response
        .writeHead(403, { 'content-type': 'text/plain' })
        .end('this server answers only requests addressed to localhost\n');
      return;
    }
    const path = pathOf(request.url);
    if (path === undefined) {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('malformed request target\n');
      return;
    }
    const route = options.routes[path];
    if (!route) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`no such page: ${path}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
      return;
    }
    Promise.resolve()
      .then(() => route(request, response))
      .catch((error: unknown) => {
        options.logger.warn({ err: error, path }, 'HTTP route failed');
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('internal error\n');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new MeshError(Code.UNAVAILABLE, `cannot listen on ${listen}: ${error.message}`, { cause: error }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const address = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  return {
    address,
    url: `http://${address}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers `value` as JSON, not to be cached. */
export function sendJson(response: ServerResponse, value: unknown): void {
  response
    .writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
    .end(JSON.stringify(value));
}

/** `/metrics`: the Prometheus text exposition of `registry`. */
export function metricsRoute(registry: Registry): HttpRoute {
  return async (_request, response) => {
    const body = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType }).end(body);
  };
}

/** The path of a request target, or undefined when it is not a valid URL path (e.g. `//[`). */
/** The path of a request target, or undefined when it is malformed. */
export function pathOf(target: string | undefined): string | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}
