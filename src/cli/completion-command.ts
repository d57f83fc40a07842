import { Argument, Command } from 'commander';

/** One command of the tree, as the completion scripts need it. */
interface CommandEntry {
  /** Subcommand names from the root, e.g. ["ca", "issue"]; empty for `agent-mesh` itself. */
  path: string[];
  description: string;
  subcommands: string[];
  /** The values a positional argument takes, when it lists them (`completion <shell>`). */
  argumentChoices: string[];
  /** Long and short flags, e.g. --certs, -o. */
  options: Array<{ flags: string[]; description: string; choices?: readonly string[] }>;
}

function entries(command: Command, path: string[] = []): CommandEntry[] {
  const options = command.options
    .filter((option) => !option.hidden)
    .map((option) => ({
      flags: [option.long, option.short].filter((flag): flag is string => flag !== undefined),
      description: option.description,
      ...(option.argChoices ? { choices: option.argChoices } : {}),
    }));
  options.push({ flags: ['--help', '-h'], description: 'show help' });
  const children = command.commands.filter((child) => child.name() !== 'help');
  return [
    {
      path,
      description: command.summary() || command.description(),
      subcommands: children.map((child) => child.name()),
      argumentChoices: command.registeredArguments.flatMap((argument) => argument.argChoices ?? []),
      options,
    },
    ...children.flatMap((child) => entries(child, [...path, child.name()])),
  ];
}

const quoteSingle = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** A bash completion function: the words after the deepest subcommand typed so far, and flag values with choices. */
export function bashCompletion(program: Command): string {
  const tree = entries(program);
  // Flags when the word begins with "-"; else subcommands and listed values, and when there are none, bash's own
  // completion (file names: `policies set <file>`).
  const cases = tree.map((entry) => {
    const flags = entry.options.flatMap((option) => option.flags).join(' ');
    const words = [...entry.subcommands, ...entry.argumentChoices].join(' ');
    return `    ${quoteSingle(entry.path.join(' '))}) if [[ "$cur" == -* ]]; then words=${quoteSingle(flags)}; else words=${quoteSingle(words)}; fi ;;`;
  });
  const choices = tree.flatMap((entry) =>
    entry.options
      .filter((option) => option.choices)
      .flatMap((option) =>
        option.flags.map(
          (flag) =>
            `    ${quoteSingle(`${entry.path.join(' ')}|${flag}`)}) words=${quoteSingle(option.choices!.join(' '))} ;;`,
        ),
      ),
  );
  const known = tree.map((entry) => entry.path.join(' ')).join('|');
  return `# agent-mesh completion for bash: source <(agent-mesh completion bash)
_agent_mesh() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" word words="" next
  local known=${quoteSingle(`|${known}|`)}
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    next="\${path:+$path }$word"
    [[ "$known" == *"|$next|"* ]] && path="$next"
  done
  case "$path|$prev" in
${choices.join('\n')}
  esac
  if [[ -z "$words" ]]; then
    case "$path" in
${cases.join('\n')}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _agent_mesh agent-mesh
`;
}

/** zsh runs the bash function through bashcompinit, which ships with zsh. */
export function zshCompletion(program: Command): string {
  return `# agent-mesh completion for zsh: source <(agent-mesh completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).replace(/^# .*\n/, '')}`;
}

/** fish completions: subcommands where they may come, each command's flags once its subcommand is typed. */
export function fishCompletion(program: Command): string {
  const lines = [
    '# agent-mesh completion for fish: agent-mesh completion fish | source',
    'complete -c agent-mesh -f',
  ];
  const tree = entries(program);
  const byPath = new Map(tree.map((entry) => [entry.path.join(' '), entry]));
  for (const entry of tree) {
    const within =
      entry.path.length === 0
        ? '__fish_use_subcommand'
        : entry.path.map((name) => `__fish_seen_subcommand_from ${name}`).join('; and ');
    const deeper =
      entry.subcommands.length > 0
        ? `; and not __fish_seen_subcommand_from ${entry.subcommands.join(' ')}`
        : '';
    const condition = entry.path.length === 0 ? within : `${within}${deeper}`;
    for (const name of entry.subcommands) {
      const child = byPath.get([...entry.path, name].join(' '));
      lines.push(
        `complete -c agent-mesh -n ${quoteSingle(condition)} -a ${name} -d ${quoteSingle(child?.description ?? '')}`,
      );
    }
    if (entry.path.length === 0) continue;
    for (const option of entry.options) {
      const long = option.flags.find((flag) => flag.startsWith('--'));
      const short = option.flags.find((flag) => !flag.startsWith('--'));
      const parts = [`complete -c agent-mesh -n ${quoteSingle(`${within}${deeper}`)}`];
      if (long) parts.push(`-l ${long.slice(2)}`);
      if (short) parts.push(`-s ${short.slice(1)}`);
      if (option.choices) parts.push(`-x -a ${quoteSingle(option.choices.join(' '))}`);
      parts.push(`-d ${quoteSingle(option.description)}`);
      lines.push(parts.join(' '));
    }
  }
  return `${lines.join('\n')}\n`;
}

const SHELLS = {
  bash: bashCompletion,
  zsh: zshCompletion,
  fish: fishCompletion,
} as const;

/**
 * `agent-mesh completion bash|zsh|fish`: prints the shell's completion script, made from the program itself (every
 * subcommand loaded), so it never lags behind the commands.
 */
export function createCompletionCommand(fullProgram: () => Promise<Command>): Command {
  return new Command('completion')
    .description(
      'print a completion script: bash `source <(agent-mesh completion bash)`, zsh the same with zsh, ' +
        'fish `agent-mesh completion fish | source` (add the line to your shell start-up file)',
    )
    .addArgument(new Argument('<shell>', 'the shell').choices(Object.keys(SHELLS)))
    .action(async (shell: keyof typeof SHELLS) => {
      process.stdout.write(SHELLS[shell](await fullProgram()));
    });
}
