import { Code, fail, ok, quote, type Result } from './errors.js';
import { validatePolicySet, type Grant, type PolicyRule, type PolicySet, type RateLimit } from './policy.js';

/**
 * Policies as a file holds them (YAML or JSON, as `agent-mesh policies get -o yaml` prints them): a policy set
 * whose empty lists may be left out. {@link policySetFromDocument} reads one, {@link policyDocument} writes one.
 */
export type PolicyDocument = Record<string, unknown>;

const RULE_LISTS = ['actions', 'callers', 'callerTypes', 'targetTypes', 'methods', 'topics'] as const;
const LIMIT_LISTS = ['callers', 'callerTypes', 'targetTypes', 'methods'] as const;
const LIMIT_NUMBERS = ['requestsPerSecond', 'burst', 'tokensPerMinute'] as const;
const GRANT_LISTS = ['callers', 'callerTypes', 'types'] as const;
const SET_KEYS = new Set(['defaultEffect', 'rules', 'rateLimits', 'grants', 'revokedIdentities']);

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a policy file's document: every field checked by name, so that a typo is an error, not a silent no-op. */
export function policySetFromDocument(document: unknown): Result<PolicySet> {
  const bad = (why: string) => fail(Code.INVALID_ARGUMENT, `invalid policies: ${why}`);
  if (!isObject(document)) return bad('the file must hold one object with defaultEffect and rules');
  const unknown = Object.keys(document).find((key) => !SET_KEYS.has(key));
  if (unknown !== undefined) return bad(`unknown field ${quote(unknown)} (${[...SET_KEYS].join(', ')})`);
  const lists = (
    where: string,
    fields: Fields,
    names: readonly string[],
  ): Result<Record<string, string[]>> => {
    const out: Record<string, string[]> = {};
    for (const name of names) {
      const value = fields[name] ?? [];
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
        return fail(Code.INVALID_ARGUMENT, `invalid policies: ${where}: ${name} must be a list of strings`);
      }
      out[name] = value as string[];
    }
    return ok(out);
  };
  const entries = (name: string, known: readonly string[]): Result<Fields[]> => {
    const value = document[name] ?? [];
    if (!Array.isArray(value)) return fail(Code.INVALID_ARGUMENT, `invalid policies: ${name} must be a list`);
    for (const [index, entry] of value.entries()) {
      if (!isObject(entry))
        return fail(Code.INVALID_ARGUMENT, `invalid policies: ${name}[${index}] must be an object`);
      const extra = Object.keys(entry).find((key) => !known.includes(key));
      if (extra !== undefined) {
        return fail(
          Code.INVALID_ARGUMENT,
          `invalid policies: ${name}[${index}] has an unknown field ${quote(extra)} (${known.join(', ')})`,
        );
      }
      if (typeof entry.id !== 'string') {
        return fail(Code.INVALID_ARGUMENT, `invalid policies: ${name}[${index}] needs an id (a string)`);
      }
    }
    return ok(value as Fields[]);
  };

  const rules: PolicyRule[] = [];
  const ruleEntries = entries('rules', ['id', 'effect', ...RULE_LISTS]);
  if (!ruleEntries.ok) return ruleEntries;
  for (const entry of ruleEntries.value) {
    const read = lists(`rule ${quote(String(entry.id))}`, entry, RULE_LISTS);
    if (!read.ok) return read;
    const { actions, callers, callerTypes, targetTypes, methods, topics } = read.value;
    rules.push({
      id: entry.id as string,
      effect: entry.effect as PolicyRule['effect'],
      actions: actions as PolicyRule['actions'],
      callers: callers!,
      callerTypes: callerTypes!,
      targetTypes: targetTypes!,
      methods: methods!,
      topics: topics!,
    });
  }

  const rateLimits: RateLimit[] = [];
  const limitEntries = entries('rateLimits', ['id', ...LIMIT_LISTS, ...LIMIT_NUMBERS]);
  if (!limitEntries.ok) return limitEntries;
  for (const entry of limitEntries.value) {
    const where = `rate limit ${quote(String(entry.id))}`;
    const read = lists(where, entry, LIMIT_LISTS);
    if (!read.ok) return read;
    const number = LIMIT_NUMBERS.find((name) => entry[name] !== undefined && typeof entry[name] !== 'number');
    if (number !== undefined) return bad(`${where}: ${number} must be a number`);
    rateLimits.push({
      id: entry.id as string,
      callers: read.value.callers!,
      callerTypes: read.value.callerTypes!,
      targetTypes: read.value.targetTypes!,
      methods: read.value.methods!,
      requestsPerSecond: (entry.requestsPerSecond as number | undefined) ?? 0,
      burst: (entry.burst as number | undefined) ?? 0,
      tokensPerMinute: (entry.tokensPerMinute as number | undefined) ?? 0,
    });
  }

  const grants: Grant[] = [];
  const grantEntries = entries('grants', ['id', ...GRANT_LISTS, 'priority']);
  if (!grantEntries.ok) return grantEntries;
  for (const entry of grantEntries.value) {
    const where = `grant ${quote(String(entry.id))}`;
    const read = lists(where, entry, GRANT_LISTS);
    if (!read.ok) return read;
    if (entry.priority !== undefined && typeof entry.priority !== 'string')
      return bad(`${where}: priority must be a string`);
    grants.push({
      id: entry.id as string,
      callers: read.value.callers!,
      callerTypes: read.value.callerTypes!,
      types: read.value.types!,
      priority: ((entry.priority as string | undefined) ?? '') as Grant['priority'],
    });
  }

  const revoked = lists('revokedIdentities', { revokedIdentities: document.revokedIdentities }, [
    'revokedIdentities',
  ]);
  if (!revoked.ok) return revoked;
  if (typeof document.defaultEffect !== 'string') return bad('defaultEffect must be "allow" or "deny"');
  return validatePolicySet({
    defaultEffect: document.defaultEffect as PolicySet['defaultEffect'],
    rules,
    ...(rateLimits.length > 0 ? { rateLimits } : {}),
    ...(grants.length > 0 ? { grants } : {}),
    ...(revoked.value.revokedIdentities!.length > 0
      ? { revokedIdentities: revoked.value.revokedIdentities! }
      : {}),
  });
}

/** Drops a list field that is empty, and a string or number field at its default, so that files stay short. */
function compact(fields: object): Fields {
  return Object.fromEntries(
    Object.entries(fields).filter(
      ([, value]) => !(Array.isArray(value) && value.length === 0) && value !== '' && value !== 0,
    ),
  );
}

/** A policy set as a file holds it: in a fixed field order, without empty lists, ready for YAML or JSON. */
export function policyDocument(policies: PolicySet): PolicyDocument {
  return {
    defaultEffect: policies.defaultEffect,
    rules: policies.rules.map(
      ({ id, effect, actions, callers, callerTypes, targetTypes, methods, topics }) => ({
        id,
        effect,
        ...compact({ actions, callers, callerTypes, targetTypes, methods, topics }),
      }),
    ),
    ...((policies.rateLimits ?? []).length > 0
      ? {
          rateLimits: policies.rateLimits!.map((limit) => ({
            id: limit.id,
            ...compact({ ...limit, id: '' }),
          })),
        }
      : {}),
    ...((policies.grants ?? []).length > 0
      ? { grants: policies.grants!.map((grant) => ({ id: grant.id, ...compact({ ...grant, id: '' }) })) }
      : {}),
    ...((policies.revokedIdentities ?? []).length > 0
      ? { revokedIdentities: [...policies.revokedIdentities!] }
      : {}),
  };
}
