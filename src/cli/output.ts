import { Option, type Command } from 'commander';

/** How a command that prints a result prints it: for people (`table`) or for programs (`json`, `yaml`). */
export type OutputFormat = 'table' | 'json' | 'yaml';

/** The flags {@link withOutputOptions} adds. */
export interface OutputFlags {
  output: OutputFormat;
  json: boolean;
}

/**
 * Adds `-o, --output <table|json|yaml>` and `--json` (short for `--output json`), the same on every command that
 * prints something, as `kubectl` and `linkerd` have them.
 */
export function withOutputOptions(command: Command): Command {
  return command
    .addOption(
      new Option('-o, --output <format>', 'how to print the result')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .addOption(new Option('--json', 'short for --output json').default(false).conflicts('output'));
}

/** The format the flags ask for; `--json` wins over a default `--output`, and names the same thing as `-o json`. */
export function outputFormat(flags: OutputFlags): OutputFormat {
  return flags.json ? 'json' : flags.output;
}

/**
 * Prints `document` as the flags ask: `table()` for people, or the document itself as JSON or YAML. `table`
 * returns what to print (several paragraphs, or a note for an empty result, already on stderr if it is one).
 */
export async function printResult(
  flags: OutputFlags,
  document: unknown,
  table: () => string | undefined,
): Promise<void> {
  const format = outputFormat(flags);
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else if (format === 'yaml') {
    // Loaded only when asked for: most commands print tables, and start-up time counts.
    const { stringify } = await import('yaml');
    process.stdout.write(stringify(document));
  } else {
    const text = table();
    if (text !== undefined) process.stdout.write(`${text}\n`);
  }
}
