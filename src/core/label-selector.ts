import { Code, fail, ok, type Result, quote } from './errors.js';

/** One requirement of a label selector. */
export type LabelRequirement =
  | { key: string; op: 'in'; values: string[] }
  | { key: string; op: 'notin'; values: string[] }
  | { key: string; op: 'exists' }
  | { key: string; op: 'notexists' };

/**
 * A parsed Kubernetes-style label selector: every requirement must hold. `a=b` and `a==b` are `a in (b)`, `a!=b`
 * is `a notin (b)` (which also matches agents without the label, as in Kubernetes).
 */
export interface LabelSelector {
  readonly requirements: readonly LabelRequirement[];
}

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const MAX_SELECTOR_LENGTH = 4096;

/** Checks a label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
export function validLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && PREFIX.test(prefix) && NAME.test(key.slice(slash + 1));
}

/** Checks a label value: empty, or up to 63 letters, digits, `-`, `_`, `.`, starting and ending alphanumeric. */
export function validLabelValue(value: string): boolean {
  return value === '' || NAME.test(value);
}

/** Splits on commas that are not inside parentheses. */
function splitTop(text: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (char === '(') depth += 1;
    else if (char === ')') depth -= 1;
    if (depth < 0 || depth > 1) return undefined;
    if (char === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  parts.push(text.slice(start));
  return parts;
}

const SET_FORM = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/;
const EQUALITY_FORM = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/;

function parseRequirement(raw: string): Result<LabelRequirement> {
  const text = raw.trim();
  const bad = (why: string) =>
    fail(Code.INVALID_ARGUMENT, `invalid label selector requirement ${quote(text)}: ${why}`);
  const checkKey = (key: string) =>
    validLabelKey(key) ? undefined : bad(`${quote(key)} is not a valid label key`);
  const checkValues = (values: string[]) => {
    const wrong = values.find((value) => !validLabelValue(value));
    return wrong === undefined ? undefined : bad(`${quote(wrong)} is not a valid label value`);
  };
  if (text === '') return bad('it is empty (two commas in a row, or a trailing comma?)');
  const set = SET_FORM.exec(text);
  if (set) {
    const [, key, op, list] = set as unknown as [string, string, 'in' | 'notin', string];
    const values = list.split(',').map((value) => value.trim());
    if (values.length === 1 && values[0] === '') return bad('the value list is empty');
    return checkKey(key) ?? checkValues(values) ?? ok({ key, op, values });
  }
  const equality = EQUALITY_FORM.exec(text);
  if (equality) {
    const [, key, op, value] = equality as unknown as [string, string, string, string];
    return (
      checkKey(key) ?? checkValues([value]) ?? ok({ key, op: op === '!=' ? 'notin' : 'in', values: [value] })
    );
  }
  if (text.startsWith('!')) {
    const key = text.slice(1).trim();
    return checkKey(key) ?? ok({ key, op: 'notexists' });
  }
  if (/^\S+$/.test(text)) return checkKey(text) ?? ok({ key: text, op: 'exists' });
  return bad('use key=value, key!=value, key in (a,b), key notin (a,b), key or !key');
}

/**
 * Parses a label selector such as `zone=eu-1,model in (large,xl),!beta`. The empty string selects everything.
 * Returns INVALID_ARGUMENT naming the offending requirement otherwise.
 */
export function parseLabelSelector(text: string): Result<LabelSelector> {
  if (text.length > MAX_SELECTOR_LENGTH) {
    return fail(Code.INVALID_ARGUMENT, `label selector is longer than ${MAX_SELECTOR_LENGTH} characters`);
  }
  if (text.trim() === '') return ok({ requirements: [] });
  const parts = splitTop(text);
  if (!parts)
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid label selector ${quote(text)}: unbalanced or nested parentheses`,
    );
  const requirements: LabelRequirement[] = [];
  for (const part of parts) {
    const requirement = parseRequirement(part);
    if (!requirement.ok) return requirement;
    requirements.push(requirement.value);
  }
  return ok({ requirements });
}

/** Whether `labels` satisfy every requirement of `selector`. */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const requirement of selector.requirements) {
    const has = Object.hasOwn(labels, requirement.key);
    switch (requirement.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
      case 'in':
        if (!has || !requirement.values.includes(labels[requirement.key]!)) return false;
        break;
      case 'notin':
        if (has && requirement.values.includes(labels[requirement.key]!)) return false;
        break;
    }
  }
  return true;
}
