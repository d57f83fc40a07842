import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { Code, MeshError } from '../core/errors.js';
import type { PolicySet } from '../core/policy.js';
import { policyDocument, policySetFromDocument } from '../core/policy-document.js';
import { withClientOptions, withControlPlane, type ClientFlags } from './client-options.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { formatTable } from './table.js';
import { inputText, UsageError } from './run.js';

interface SetFlags extends ClientFlags {
  yes: boolean;
  dryRun: boolean;
}

/**
 * `agent-mesh policies get|validate|set`: the mesh's authorization policies, in the files operators keep them in
 * (YAML or JSON, the shape `get -o yaml` prints).
 */
export function createPoliciesCommand(): Command {
  const policies = new Command('policies').description(
    "read the mesh's policies, check a policy file, or replace the policies with one (showing the diff first)",
  );

  policies.addCommand(
    withOutputOptions(withClientOptions(new Command('get')))
      .description(
        'print the policies in force: a summary table, or -o yaml|json for a file `policies set` reads',
      )
      .action(async (flags: ClientFlags & OutputFlags) => {
        const current = await withControlPlane(flags, (client) => client.getPolicies());
        await printResult(flags, policyDocument(current), () => policiesTable(current));
      }),
  );

  policies.addCommand(
    new Command('validate')
      .description(
        'check a policy file (YAML or JSON) without sending it: exit 0 when valid, 1 with the problem',
      )
      .argument('<file>', 'the policy file; - reads standard input')
      .action(async (file: string) => {
        const set = await readPolicyFile(file);
        console.log(`${file}: valid, ${describe(set)}`);
      }),
  );

  policies.addCommand(
    withClientOptions(new Command('set'))
      .description(
        'replace the policies with a file (YAML or JSON): prints the diff against those in force, asks, then applies',
      )
      .argument('<file>', 'the policy file; - reads standard input (then --yes is needed)')
      .option('-y, --yes', 'apply without asking', false)
      .option('--dry-run', 'only print the diff', false)
      .action(async (file: string, flags: SetFlags) => {
        const next = await readPolicyFile(file);
        await withControlPlane(flags, async (client) => {
          const current = await client.getPolicies();
          const diff = await policiesDiff(current, next);
          if (diff === undefined) {
            console.log('no change: the policies in force are the same');
            return;
          }
          process.stdout.write(diff);
          if (flags.dryRun) return;
          if (!flags.yes && !(await confirm(file))) {
            console.log('not applied');
            return;
          }
          const applied = await client.setPolicies(next);
          console.log(`applied: ${describe(applied)}`);
        });
      }),
  );
  return policies;
}

async function readPolicyFile(file: string): Promise<PolicySet> {
  let text: string;
  try {
    text = inputText(file);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { parse } = await import('yaml');
  let document: unknown;
  try {
    // YAML 1.2 reads JSON too.
    document = parse(text);
  } catch (error) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `${file} is neither YAML nor JSON: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const set = policySetFromDocument(document);
  if (!set.ok) throw new MeshError(set.error.code, `${file}: ${set.error.message}`);
  return set.value;
}

function describe(set: PolicySet): string {
  const extra = [
    (set.rateLimits ?? []).length > 0 ? `${set.rateLimits!.length} rate limit(s)` : '',
    (set.grants ?? []).length > 0 ? `${set.grants!.length} grant(s)` : '',
    (set.revokedIdentities ?? []).length > 0
      ? `${set.revokedIdentities!.length} revoked identity pattern(s)`
      : '',
  ].filter((part) => part !== '');
  return [`default ${set.defaultEffect}`, `${set.rules.length} rule(s)`, ...extra].join(', ');
}

/** The unified diff of the two sets as YAML files, or undefined when they are the same. */
export async function policiesDiff(current: PolicySet, next: PolicySet): Promise<string | undefined> {
  const [{ stringify }, { createTwoFilesPatch }] = await Promise.all([import('yaml'), import('diff')]);
  const before = stringify(policyDocument(current));
  const after = stringify(policyDocument(next));
  if (before === after) return undefined;
  return createTwoFilesPatch('in force', 'file', before, after, undefined, undefined, { context: 3 })
    .split('\n')
    .slice(1) // the "Index:"/"====" header lines say nothing here
    .filter((line) => !/^={3,}$/.test(line))
    .join('\n');
}

async function confirm(file: string): Promise<boolean> {
  if (!process.stdin.isTTY || file === '-') {
    throw new UsageError('not applied: add --yes to apply without asking (standard input is not a terminal)');
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await prompt.question('apply these policies? [y/N] ')).trim());
  } catch (error) {
    // Ctrl-C or Ctrl-D at the question: a no.
    if ((error as NodeJS.ErrnoException).code === 'ABORT_ERR') {
      process.stdout.write('\n');
      return false;
    }
    throw error;
  } finally {
    prompt.close();
  }
}

function policiesTable(set: PolicySet): string {
  const list = (items: readonly string[]) => (items.length > 0 ? items.join(',') : '*');
  const lines = [`default effect: ${set.defaultEffect}`, ''];
  lines.push(
    set.rules.length > 0
      ? formatTable([
          ['RULE', 'EFFECT', 'ACTIONS', 'CALLERS', 'CALLER TYPES', 'TARGET TYPES', 'METHODS', 'TOPICS'],
          ...set.rules.map((rule) => [
            rule.id,
            rule.effect,
            list(rule.actions),
            list(rule.callers),
            list(rule.callerTypes),
            list(rule.targetTypes),
            list(rule.methods),
            list(rule.topics),
          ]),
        ])
      : 'no rules',
  );
  if ((set.rateLimits ?? []).length > 0) {
    lines.push(
      '',
      formatTable([
        [
          'RATE LIMIT',
          'CALLERS',
          'CALLER TYPES',
          'TARGET TYPES',
          'METHODS',
          'PER SECOND',
          'BURST',
          'TOKENS/MIN',
        ],
        ...set.rateLimits!.map((limit) => [
          limit.id,
          list(limit.callers),
          list(limit.callerTypes),
          list(limit.targetTypes),
          list(limit.methods),
          String(limit.requestsPerSecond || '-'),
          String(limit.burst || '-'),
          String(limit.tokensPerMinute || '-'),
        ]),
      ]),
    );
  }
  if ((set.grants ?? []).length > 0) {
    lines.push(
      '',
      formatTable([
        ['GRANT', 'CALLERS', 'CALLER TYPES', 'TYPES', 'PRIORITY'],
        ...set.grants!.map((grant) => [
          grant.id,
          list(grant.callers),
          list(grant.callerTypes),
          grant.types.join(',') || '-',
          grant.priority || '-',
        ]),
      ]),
    );
  }
  if ((set.revokedIdentities ?? []).length > 0)
    lines.push('', `revoked: ${set.revokedIdentities!.join(', ')}`);
  return lines.join('\n');
}
