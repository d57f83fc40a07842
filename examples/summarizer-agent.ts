/**
 * Example: a summarizer, the shape of most agents. It serves methods that other agents call through the mesh, by
 * type, without knowing where it runs.
 *
 * - `summarize`: takes a JSON document `{"title": "...", "text": "..."}` and answers with a JSON {@link Summary}
 *   (the first sentence, cut to 12 words, and the most frequent words). A document without text is refused: the
 *   MeshError the handler throws (INVALID_ARGUMENT) reaches the caller as the call's status.
 * - `summarize-stream`: the same summary one word at a time, the way a language model streams tokens.
 *
 * `npm start` runs two of them, summarizer-1 and summarizer-2, and the planner's calls are balanced across them.
 * To add a third in a process of its own while `npm start` runs (in another terminal, from the repository root):
 *
 *   npm run ca -- issue summarizer-3 --type summarizer
 *   npx tsx examples/summarizer-agent.ts
 *
 * It registers as summarizer-3 and the planner's calls start reaching it (the balancer favours the instances that
 * answer fastest, so a newcomer's share grows as it warms up); Ctrl-C drains it and the others carry on.
 * AGENT_MESH_NAME, AGENT_MESH_CERTS and AGENT_MESH_CONTROL_PLANE pick another identity, certificate directory or
 * control plane (see standalone.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, MeshError, startAgent, type InvocationPayload, type RunningAgent } from 'agent-mesh';
import { exampleLogger, isMainModule, runStandalone, type ExampleAgentOptions } from './standalone.js';

/** A document to summarize, as callers send it (JSON). */
export interface SummarizeRequest {
  title: string;
  text: string;
}

/** What `summarize` answers (JSON). */
export interface Summary {
  title: string;
  summary: string;
  keywords: string[];
  words: number;
}

const SUMMARY_WORDS = 12;

/** JSON Schema of a {@link SummarizeRequest}, on the skill's card. */
const SUMMARIZE_INPUT = {
  type: 'object',
  properties: {
    title: { type: 'string', description: 'the title (default: untitled)' },
    text: { type: 'string', description: 'the text to summarize' },
  },
  required: ['text'],
};

/** JSON Schema of a {@link Summary}. */
const SUMMARY_OUTPUT = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    summary: { type: 'string' },
    keywords: { type: 'array', items: { type: 'string' } },
    words: { type: 'integer' },
  },
  required: ['title', 'summary', 'keywords', 'words'],
};

/**
 * Starts a summarizer: type `summarizer`, capability `summarize`, the skill (and method) `summarize`, and the
 * streamed method `summarize-stream`.
 */
export function startSummarizer(options: ExampleAgentOptions): Promise<RunningAgent> {
  const log = exampleLogger(options);
  return startAgent({
    identity: options.identity,
    controlPlane: options.controlPlane,
    logger: options.logger,
    metrics: options.metrics,
    metricsListen: options.metricsListen,
    type: 'summarizer',
    capabilities: ['summarize'],
    labels: { model: 'toy-extractive' },
    description: 'summarizes JSON documents {title, text}: first sentence and keywords',
    // A skill is a method described on the agent's card: `callTool('summarize', ...)` finds it, and so do MCP
    // clients (`agent-mesh mcp`) and A2A clients at the mesh's edge, with its schemas.
    skills: [
      {
        id: 'summarize',
        name: 'Summarize a document',
        description:
          'the first sentence of a document (at most 12 words) and its three most frequent long words',
        tags: ['text', 'summary'],
        inputSchema: SUMMARIZE_INPUT,
        outputSchema: SUMMARY_OUTPUT,
        examples: ['{"title": "Mesh", "text": "Agents call each other over mTLS. Everything is verified."}'],
        // A handler gets the payload and the caller's verified SPIFFE ID; what it returns is the answer, and a
        // MeshError it throws reaches the caller as that status.
        handler: async (request, call) => {
          const summary = summarize(readDocument(request));
          log.debug({ caller: call.caller.uri, title: summary.title }, 'summarized');
          return { payload: Buffer.from(JSON.stringify(summary)), contentType: 'application/json' };
        },
      },
      {
        // No handler: it describes the stream of the same name below, so callers know to stream it.
        id: 'summarize-stream',
        name: 'Summarize a document, word by word',
        description: 'the summary of `summarize`, streamed one word at a time as a model streams tokens',
        tags: ['text', 'summary', 'stream'],
        inputSchema: SUMMARIZE_INPUT,
        outputContentTypes: ['text/plain'],
      },
    ],
    streams: {
      // A streamed method yields chunks as it makes them; the caller receives each one at once.
      'summarize-stream': async function* (request) {
        for (const word of summarize(readDocument(request)).summary.split(' ')) {
          await sleep(10); // a model takes a moment per token
          yield { payload: Buffer.from(`${word} `), contentType: 'text/plain' };
        }
      },
    },
  });
}

/**
 * Reads the JSON document of a request.
 * @throws MeshError INVALID_ARGUMENT when it is not JSON or has no text, saying what to send instead.
 */
function readDocument(request: InvocationPayload): SummarizeRequest {
  let document: Partial<SummarizeRequest> | null;
  try {
    document = JSON.parse(request.payload.toString()) as Partial<SummarizeRequest> | null;
  } catch {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      'the request is not JSON: send {"title": "...", "text": "..."}',
    );
  }
  if (typeof document?.text !== 'string' || document.text.trim() === '') {
    throw new MeshError(Code.INVALID_ARGUMENT, 'nothing to summarize: the document has no "text"');
  }
  return { title: typeof document.title === 'string' ? document.title : 'untitled', text: document.text };
}

/** A toy extractive summary: the first sentence (at most 12 words) and the three most frequent long words. */
export function summarize(document: SummarizeRequest): Summary {
  const words = document.text.split(/\s+/).filter(Boolean);
  const first = (document.text.trim().split(/(?<=[.!?])\s/)[0] ?? '').split(/\s+/);
  const summary =
    first.length > SUMMARY_WORDS ? `${first.slice(0, SUMMARY_WORDS).join(' ')}…` : first.join(' ');
  const counts = new Map<string, number>();
  for (const word of words) {
    const bare = word.toLowerCase().replace(/[^a-z0-9-]/g, '');
    if (bare.length >= 5) counts.set(bare, (counts.get(bare) ?? 0) + 1);
  }
  const keywords = [...counts]
    .sort(([a, m], [b, n]) => n - m || a.localeCompare(b))
    .slice(0, 3)
    .map(([word]) => word);
  return { title: document.title, summary, keywords, words: words.length };
}

// Run on its own: `npx tsx examples/summarizer-agent.ts` (see the top of this file).
if (isMainModule(import.meta.url)) await runStandalone('summarizer-3', startSummarizer);
