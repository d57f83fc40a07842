/**
 * The command blocks of a Markdown page, with the `readme-test` annotations that say how a test runs them
 * (test/readme-flows.test.ts). The convention, one HTML comment per annotation, just before a fenced block:
 *
 *     <!-- readme-test: skip reason="..." -->                      the whole next block is not run
 *     <!-- readme-test: command="PREFIX" KEY=VALUE ... -->          about the one command of the block starting so
 *
 * Keys of a command annotation: `skip reason="..."` (not run); `background ready="TEXT"` (it keeps running, as in
 * another terminal; the next command waits until its output contains TEXT; a command ending in `&` needs this);
 * `expect="TEXT"` (its output contains TEXT); `shows="TEXT" in="PREFIX"` (after it ran, the output of the
 * background command started from PREFIX comes to contain TEXT); `without="TEXT"` with `reason` (TEXT is cut from
 * the command, e.g. `npm install && `); `stops="PREFIX"` (the background command started from PREFIX is stopped
 * first, as the page says in words); `free-ports="7400 ..."` (those loopback ports must be free, or the test fails
 * naming them). An output block (a fence without a language) annotated `output-of="PREFIX" any="WORD ..."` must
 * appear, line by line, in that command's output, where each WORD stands for anything (a port, a path). Values are
 * quoted with "..." or '...'; the texts are plain text, not patterns.
 *
 * Only ```sh blocks are commands: one per line, `\` or an open quote continuing it; blank lines and comment lines
 * are skipped. An annotation that matches no command, or more than one, fails the parse, so the page and its
 * annotations cannot drift apart.
 */

/** One command of a page, as a test runs it. */
export interface ReadmeCommand {
  kind: 'command';
  /** Where it is, `README.md:27`. */
  where: string;
  /** The text as pasted into a shell (after `without`), without a trailing `&`. */
  text: string;
  skip?: string;
  background?: { ready: string };
  expect?: string;
  /** After it ran, the output of the background command started from `in` comes to contain `text`. */
  shows?: { in: string; text: string };
  stops?: string;
  freePorts?: number[];
  /** The command as the page shows it, for `output-of` and `stops`. */
  original: string;
}

/** An output block to find in a command's output. */
export interface ReadmeOutput {
  kind: 'output';
  where: string;
  of: string;
  /** One pattern per line of the block. */
  lines: RegExp[];
}

/** A block skipped as a whole. */
export interface ReadmeSkippedBlock {
  kind: 'skipped-block';
  where: string;
  reason: string;
}

/** What a page asks a test to do, in order. */
export type ReadmeStep = ReadmeCommand | ReadmeOutput | ReadmeSkippedBlock;

type Attributes = Map<string, string>;

const ANNOTATION = /^<!-- readme-test: (.*) -->$/;
const ATTRIBUTE = /([\w-]+)(?:=(?:"([^"]*)"|'([^']*)'))?/g;

function parseAttributes(text: string): Attributes {
  const attributes: Attributes = new Map();
  for (const match of text.matchAll(ATTRIBUTE)) {
    attributes.set(match[1]!, match[2] ?? match[3] ?? '');
  }
  return attributes;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The quote still open at the end of `line` (`'` or `"`), given the one open at its start: a quoted string may
 * span lines (a JSON body for curl). A `#` outside quotes starts a comment.
 */
function openQuote(line: string, open: string | undefined): string | undefined {
  let quote = open;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i]!;
    if (quote === undefined && char === '#' && (i === 0 || /\s/.test(line[i - 1]!))) break;
    if (quote === undefined && char === '\\') i += 1;
    else if (quote === undefined && (char === "'" || char === '"')) quote = char;
    else if (quote === '"' && char === '\\') i += 1;
    else if (char === quote) quote = undefined;
  }
  return quote;
}

/** The commands of one ```sh block, with the line each starts on. */
function splitCommands(lines: string[], firstLine: number): Array<{ line: number; text: string }> {
  const commands: Array<{ line: number; text: string }> = [];
  let current: { line: number; parts: string[] } | undefined;
  let quote: string | undefined;
  lines.forEach((line, i) => {
    if (!current) {
      if (line.trim() === '' || line.trim().startsWith('#')) return;
      current = { line: firstLine + i, parts: [] };
    }
    current.parts.push(line);
    quote = openQuote(line, quote);
    if (quote === undefined && !/\\\s*$/.test(line)) {
      commands.push({ line: current.line, text: current.parts.join('\n') });
      current = undefined;
    }
  });
  if (current) throw new Error(`line ${current.line}: the command's last line ends with \\ or in a quote`);
  return commands;
}

/** The steps of page `name` (its `text`), in order. */
export function parseReadme(name: string, text: string): ReadmeStep[] {
  const steps: ReadmeStep[] = [];
  const lines = text.split('\n');
  let pending: Array<{ line: number; attributes: Attributes }> = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    const annotation = ANNOTATION.exec(line.trim());
    if (annotation) {
      pending.push({ line: i + 1, attributes: parseAttributes(annotation[1]!) });
      continue;
    }
    const fence = /^```(\w*)$/.exec(line);
    if (!fence) {
      if (line.trim() !== '' && pending.length > 0) {
        throw new Error(
          `${name}:${pending[0]!.line}: a readme-test annotation must come just before a block`,
        );
      }
      continue;
    }
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end += 1;
    const body = lines.slice(start, end);
    i = end;
    const annotations = pending;
    pending = [];
    const where = `${name}:${start}`;
    if (fence[1] === '') {
      for (const { attributes } of annotations) {
        const of = attributes.get('output-of');
        if (of === undefined) throw new Error(`${where}: an output block takes output-of="..."`);
        const any = (attributes.get('any') ?? '').split(' ').filter(Boolean);
        steps.push({
          kind: 'output',
          where,
          of,
          lines: body
            .filter((text) => text.trim() !== '')
            .map((text) => {
              let pattern = escapeRegExp(text.trim());
              for (const word of any) pattern = pattern.split(escapeRegExp(word)).join('\\S+');
              return new RegExp(pattern.replace(/\s+/g, '\\s+'));
            }),
        });
      }
      continue;
    }
    if (fence[1] !== 'sh') {
      if (annotations.length > 0) throw new Error(`${where}: readme-test annotations are for sh blocks`);
      continue;
    }
    const blockSkip = annotations.find(({ attributes }) => !attributes.has('command'));
    if (blockSkip) {
      if (!blockSkip.attributes.has('skip')) throw new Error(`${where}: a block annotation is a skip`);
      steps.push({ kind: 'skipped-block', where, reason: blockSkip.attributes.get('reason') ?? '' });
      continue;
    }
    const commands: ReadmeCommand[] = splitCommands(body, start + 1).map(({ line, text }) => ({
      kind: 'command',
      where: `${name}:${line}`,
      text,
      original: text,
    }));
    for (const { line: annotationLine, attributes } of annotations) {
      const prefix = attributes.get('command')!;
      const matching = commands.filter((command) => command.original.startsWith(prefix));
      if (matching.length !== 1) {
        throw new Error(
          `${name}:${annotationLine}: command="${prefix}" matches ${matching.length} commands of the next block, not 1`,
        );
      }
      const command = matching[0]!;
      if (attributes.has('skip')) command.skip = attributes.get('reason') ?? 'skipped';
      const without = attributes.get('without');
      if (without !== undefined) {
        if (!command.text.includes(without) || !attributes.get('reason')) {
          throw new Error(
            `${name}:${annotationLine}: without="${without}" needs reason= and must be in the command`,
          );
        }
        command.text = command.text.replace(without, '');
      }
      if (attributes.has('background')) {
        const ready = attributes.get('ready');
        if (!ready) throw new Error(`${name}:${annotationLine}: background needs ready="..."`);
        command.background = { ready };
      }
      const expect = attributes.get('expect');
      if (expect !== undefined) command.expect = expect;
      const shows = attributes.get('shows');
      if (shows !== undefined) {
        const source = attributes.get('in');
        if (!source) throw new Error(`${name}:${annotationLine}: shows="..." needs in="<command prefix>"`);
        command.shows = { in: source, text: shows };
      }
      const stops = attributes.get('stops');
      if (stops !== undefined) command.stops = stops;
      const ports = attributes.get('free-ports');
      if (ports !== undefined) command.freePorts = ports.split(' ').filter(Boolean).map(Number);
    }
    for (const command of commands) {
      if (/&\s*(#.*)?$/.test(command.text) && !/&&\s*(#.*)?$/.test(command.text)) {
        if (!command.background) {
          throw new Error(`${command.where}: a command ending in & needs background ready="..."`);
        }
        command.text = command.text.replace(/\s*&\s*(#.*)?$/, '');
      }
      steps.push(command);
    }
  }
  if (pending.length > 0) throw new Error(`${name}:${pending[0]!.line}: an annotation without a block`);
  return steps;
}
