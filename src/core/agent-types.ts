import { Code, fail, ok, quote, type Result } from './errors.js';

/** An agent type: 1-63 lowercase letters, digits, `.`, `_` or `-`, starting and ending with a letter or digit. */
const AGENT_TYPE = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
/** Most agent types one certificate or join token may entitle its identity to. */
export const MAX_ENTITLED_TYPES = 16;

/** Checks an agent type's syntax. Returns INVALID_ARGUMENT naming the problem. */
export function validateAgentType(type: string): Result<string> {
  if (!AGENT_TYPE.test(type)) {
    return fail(
      Code.INVALID_ARGUMENT,
      `type ${quote(type)} must be 1-63 lowercase letters, digits, ".", "_" or "-" (e.g. summarizer)`,
    );
  }
  return ok(type);
}

/**
 * Checks the agent types an identity is to be entitled to (by its certificate or join token): each valid, at most
 * {@link MAX_ENTITLED_TYPES}. Returns them without duplicates, in order.
 */
export function validateEntitledTypes(types: readonly string[]): Result<string[]> {
  const unique = [...new Set(types)];
  if (unique.length > MAX_ENTITLED_TYPES) {
    return fail(
      Code.INVALID_ARGUMENT,
      `${unique.length} agent types given; an identity may be entitled to at most ${MAX_ENTITLED_TYPES}`,
    );
  }
  for (const type of unique) {
    const valid = validateAgentType(type);
    if (!valid.ok) return valid;
  }
  return ok(unique);
}
