import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointCache } from '../data-plane/endpoint-cache.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayCaller } from './gateway.js';

/** Options of {@link createA2aRoutes}. */
export interface A2aRoutesOptions {
  url: string;
  cache: EndpointCache;
  logger: Logger;
  version: string;
}

/** The A2A side of the gateway. */
export interface A2aRoutes {
  serve(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    caller: GatewayCaller,
  ): Promise<void>;
  close(): void;
}

export function createA2aRoutes(_options: A2aRoutesOptions): A2aRoutes {
  return {
    async serve(_request, response) {
      response.writeHead(501).end();
    },
    close() {},
  };
}
