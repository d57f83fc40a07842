import { existsSync, type Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStoreDescription } from '../event-store.js';
import { HISTORY_MINUTES, type OperationsView } from '../operations-view.js';
import { Code, MeshError } from '../../core/errors.js';
import { sendJson, type HttpRoute } from '../../observability/http-server.js';
import type { Logger } from '../../observability/logger.js';

/** Who serves the dashboard: public facts about the control plane replica (never key material). */
export interface DashboardInfo {
  /** The gRPC address agents use. */
  address: string;
  spiffeId: string;
  trustDomain: string;
  store: string;
  startedAt: number;
  /** When the control plane's own certificate expires. */
  certificateExpiresAt: number;
  healthCheckLeader: boolean;
}

/**
 * `/api/events`: the durable event store (NATS JetStream), when the control plane has one: its stream, the events
 * stored per topic (dead letters included, under their own topics) and each subscription's consumer with what it
 * has not yet delivered or had acknowledged. Without an event store, events go from publisher to subscriber
 * directly and the control plane sees none of them.
 */
export type EventsView =
  | { enabled: false }
  | { enabled: true; generatedAt: number; store: EventStoreDescription; consumersOmitted: number }
  | { enabled: true; generatedAt: number; error: string };

/** Most consumers `/api/events` lists (the busiest first); the rest are counted. */
export const MAX_EVENT_CONSUMERS = 500;

/** Options for {@link createDashboardRoutes}. */
export interface DashboardOptions {
  view: OperationsView;
  /** Read at every request: some facts change while running (the certificate, leadership). */
  info: () => DashboardInfo;
  logger: Logger;
  /** How often open streams get the topology (its rates change without registry changes); default 2 s. */
  refreshMs?: number;
  /** Least time between two pushes of registry changes to streams, so that a burst is one push; default 200 ms. */
  throttleMs?: number;
  /** Most live-update streams open at once; more get 503 (default 32). */
  maxStreams?: number;
  /** Describes the durable event store, when there is one (read at each `/api/events` request). */
  events?: () => Promise<EventStoreDescription>;
}

/** The dashboard's routes and what to stop when the server closes. */
export interface Dashboard {
  routes: Record<string, HttpRoute>;
  /** Ends the open streams and stops following the view. */
  close(): void;
}

/**
 * The content type of each kind of file the page is made of, by extension. The folder's other files (the server's
 * own TypeScript, the browser code's tsconfig and type declarations) are not served.
 */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The files without which the page does not work: the page, its entry module (the rest it imports), style, icon. */
const REQUIRED_ASSETS = ['index.html', 'dashboard.js', 'dashboard.css', 'favicon.svg'];

/** Where a file of the page is served. */
const assetPath = (file: string) => (file === 'index.html' ? '/' : `/${file}`);

// Everything the page loads comes from this server: no inline script or style, no other origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Most bytes queued for one stream before it is cut off (a client that does not read). */
const MAX_STREAM_BACKLOG = 4 * 1024 * 1024;
const ACTIVITY_LIMIT = 200;

/**
 * The page's static files: next to this module when running from source, or in the package's `src/control-plane/dashboard/`
 * when running from `dist/` (the TypeScript build does not copy them).
 */
function assetsDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, 'index.html'))) return here;
  for (let dir = here; dirname(dir) !== dir; dir = dirname(dir)) {
    const candidate = join(dir, 'src', 'control-plane', 'dashboard');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return here;
}

/**
 * The page's files, read once at start: `index.html` at `/` and every other file with a known content type at
 * `/<name>` (the stylesheet, the icon and the ES modules of the script, which import each other by relative URL).
 * Only the regular files directly in the folder are read, never a link or a subfolder, and requests are matched to
 * these paths exactly: nothing outside the folder can be served.
 */
async function loadAssets(): Promise<Map<string, { body: Buffer; type: string }>> {
  const dir = assetsDirectory();
  const assets = new Map<string, { body: Buffer; type: string }>();
  const missing = (file: string, error?: unknown) =>
    new MeshError(
      Code.NOT_FOUND,
      `the dashboard's files are missing: cannot read ${join(dir, file)} (reinstall agent-mesh)`,
      { cause: error },
    );
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw missing('', error);
  }
  for (const entry of entries) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || !type) continue;
    try {
      assets.set(assetPath(entry.name), { body: await readFile(join(dir, entry.name)), type });
    } catch (error) {
      throw missing(entry.name, error);
    }
  }
  const absent = REQUIRED_ASSETS.find((file) => !assets.has(assetPath(file)));
  if (absent) throw missing(absent);
  return assets;
}

/** A query parameter of the request, or null. */
function parameter(request: IncomingMessage, name: string): string | null {
  return new URL(request.url ?? '/', 'http://localhost').searchParams.get(name);
}

/** `?minutes=`: a whole number of minutes from 1 to the history's length, or undefined (the live window). */
function minutesParameter(request: IncomingMessage): number | undefined {
  const raw = parameter(request, 'minutes');
  const minutes = raw === null ? NaN : Number(raw);
  return Number.isInteger(minutes) && minutes >= 1 ? Math.min(minutes, HISTORY_MINUTES) : undefined;
}

function limitParameter(request: IncomingMessage, fallback: number): number {
  const raw = parameter(request, 'limit');
  const limit = raw === null ? fallback : Number(raw);
  return Number.isInteger(limit) && limit > 0 ? Math.min(limit, fallback) : fallback;
}

/**
 * The dashboard: the page (`/`, its script modules, style and icon), the JSON it reads (`/api/info`, `/api/agents`,
 * `/api/topology?minutes=m`, `/api/agent?id=a&minutes=m`, `/api/topics`, `/api/events`, `/api/policies`,
 * `/api/activity?limit=n`;
 * `minutes` picks a range of the per-minute history, from 1 to {@link HISTORY_MINUTES}) and live updates as server-sent events (`/api/stream`: `info`,
 * `agents`, `topology` and `activity` events, each carrying the same JSON as its API route; registry changes are
 * pushed as they happen, the topology every `refreshMs`). Read-only.
 * @throws MeshError NOT_FOUND when the page's files cannot be read.
 */
export async function createDashboardRoutes(options: DashboardOptions): Promise<Dashboard> {
  const assets = await loadAssets();
  const { view, logger } = options;
  const refreshMs = options.refreshMs ?? 2_000;
  const throttleMs = options.throttleMs ?? 200;
  const maxStreams = options.maxStreams ?? 32;
  const clients = new Set<ServerResponse>();
  const dirty = { agents: false, activity: false };
  let pushTimer: NodeJS.Timeout | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;

  const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

  const send = (client: ServerResponse, chunk: string) => {
    if (client.destroyed || client.writableEnded) return; // gone; its 'close' takes it out of the set
    if (client.writableLength > MAX_STREAM_BACKLOG) {
      logger.warn('dashboard stream not reading: closed');
      client.destroy();
      return;
    }
    client.write(chunk);
  };

  const broadcast = (chunk: string) => {
    for (const client of clients) send(client, chunk);
  };

  const push = () => {
    pushTimer = undefined;
    if (clients.size === 0) return;
    let chunk = '';
    if (dirty.agents) chunk += event('agents', view.agents());
    if (dirty.activity) chunk += event('activity', view.recentActivity(ACTIVITY_LIMIT));
    dirty.agents = dirty.activity = false;
    if (chunk) broadcast(chunk);
  };

  const stopFollowing = view.subscribe((change) => {
    dirty[change] = true;
    if (clients.size > 0 && !pushTimer) {
      pushTimer = setTimeout(push, throttleMs);
      pushTimer.unref();
    }
  });

  const stream: HttpRoute = (request, response) => {
    if (request.method === 'HEAD') {
      response.writeHead(200, { 'content-type': 'text/event-stream' }).end();
      return;
    }
    if (clients.size >= maxStreams) {
      response
        .writeHead(503, { 'content-type': 'text/plain', 'retry-after': '10' })
        .end(`too many dashboard streams open (${maxStreams}); close one or retry later\n`);
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    clients.add(response);
    response.on('close', () => {
      clients.delete(response);
      if (clients.size === 0) {
        clearInterval(refreshTimer);
        refreshTimer = undefined;
      }
    });
    send(
      response,
      'retry: 2000\n\n' +
        event('info', options.info()) +
        event('agents', view.agents()) +
        event('topology', view.topology()) +
        event('activity', view.recentActivity(ACTIVITY_LIMIT)),
    );
    if (!refreshTimer) {
      refreshTimer = setInterval(() => {
        broadcast(event('topology', view.topology()) + event('info', options.info()));
      }, refreshMs);
      refreshTimer.unref();
    }
  };

  const routes: Record<string, HttpRoute> = {
    '/api/info': (_request, response) => sendJson(response, options.info()),
    '/api/agents': (_request, response) => sendJson(response, view.agents()),
    '/api/topology': (request, response) => sendJson(response, view.topology(minutesParameter(request))),
    '/api/calls': (request, response) => sendJson(response, view.calls(minutesParameter(request))),
    '/api/agent': (request, response) => {
      const id = parameter(request, 'id') ?? '';
      const detail = view.agentDetail(id, minutesParameter(request));
      if (detail) sendJson(response, detail);
      else
        response
          .writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
          .end(JSON.stringify({ error: `no agent "${id.slice(0, 80)}" is registered` }));
    },
    '/api/topics': (_request, response) => sendJson(response, view.topics()),
    '/api/events': async (_request, response) => {
      if (!options.events) {
        sendJson(response, { enabled: false } satisfies EventsView);
        return;
      }
      let answer: EventsView;
      try {
        const store = await options.events();
        const consumers = [...store.consumers].sort(
          (a, b) => b.pending + b.ackPending - (a.pending + a.ackPending),
        );
        answer = {
          enabled: true,
          generatedAt: Date.now(),
          store: { ...store, consumers: consumers.slice(0, MAX_EVENT_CONSUMERS) },
          consumersOmitted: Math.max(0, consumers.length - MAX_EVENT_CONSUMERS),
        };
      } catch (error) {
        logger.warn({ err: error }, 'cannot describe the event store for the dashboard');
        answer = {
          enabled: true,
          generatedAt: Date.now(),
          error: `the event store cannot be read now: ${MeshError.from(error).message}`.slice(0, 300),
        };
      }
      sendJson(response, answer);
    },
    '/api/policies': (_request, response) => sendJson(response, view.policies()),
    '/api/activity': (request, response) =>
      sendJson(response, view.recentActivity(limitParameter(request, ACTIVITY_LIMIT))),
    '/api/stream': stream,
  };
  for (const [path, asset] of assets) {
    routes[path] = (_request, response) => {
      response
        .writeHead(200, {
          'content-type': asset.type,
          'cache-control': 'no-cache',
          ...(path === '/'
            ? { 'content-security-policy': CONTENT_SECURITY_POLICY, 'referrer-policy': 'no-referrer' }
            : {}),
        })
        .end(asset.body);
    };
  }

  return {
    routes,
    close() {
      stopFollowing();
      clearTimeout(pushTimer);
      clearInterval(refreshTimer);
      for (const client of clients) client.end();
      clients.clear();
    },
  };
}
