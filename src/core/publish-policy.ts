import { authorize, type PolicySet } from './policy.js';
import { quote } from './errors.js';

/**
 * Whether `publisher` (with its entitled agent types: see {@link entitledTypes}) may publish to `topic` under
 * `policies`: undefined when allowed, else a sentence saying why not.
 */
export function publishRefusal(
  policies: PolicySet,
  publisher: { uri: string; types: readonly string[] },
  topic: string,
): string | undefined {
  const decision = authorize(policies, {
    caller: publisher.uri,
    callerTypes: publisher.types,
    action: 'publish',
    topic,
  });
  if (decision.allowed) return undefined;
  return `${quote(publisher.uri)} may not publish to ${quote(topic)}${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`;
}
