import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { Code, MeshError } from '../errors.js';
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
 * Starts a small read-only HTTP server for operators: the routes answer GET and HEAD, other methods get 405, other
 * paths 404; a route that throws answers 500 and the server keeps serving.
 * @throws MeshError INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be bound.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const listen = options.listen ?? '127.0.0.1:0';
  const separator = listen.lastIndexOf(':');
  const host = listen.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  const port = listen.slice(separator + 1);
  if (separator <= 0 || !/^\d+$/.test(port) || Number(port) > 65_535) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid HTTP listen address "${listen}": use host:port, e.g. 127.0.0.1:9464`,
    );
  }
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
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
    server.listen(Number(port), host, () => resolve());
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

/** `/metrics`: the Prometheus text exposition of `registry`. */
export function metricsRoute(registry: Registry): HttpRoute {
  return async (_request, response) => {
    const body = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType }).end(body);
  };
}
