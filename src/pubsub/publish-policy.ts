import { authorize, type PolicySet } from '../control-plane/policy.js';
import type { AgentRecord } from '../control-plane/agent-record.js';
import { truncateInput } from '../errors.js';
import { identityNameOf, type SpiffeId } from '../identity/spiffe-id.js';

/**
 * Whether `publisher` may publish to `topic` under `policies` (its agent type, when registered, comes from
 * `lookup`): undefined when allowed, else a sentence saying why not.
 */
export function publishRefusal(
  policies: PolicySet,
  lookup: (agentId: string) => AgentRecord | undefined,
  publisher: SpiffeId,
  topic: string,
): string | undefined {
  const name = identityNameOf(publisher);
  const type = name ? lookup(name)?.spec.type : undefined;
  const decision = authorize(policies, {
    caller: publisher.uri,
    ...(type ? { callerType: type } : {}),
    action: 'publish',
    topic,
  });
  if (decision.allowed) return undefined;
  return `"${publisher.uri}" may not publish to "${truncateInput(topic)}"${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`;
}
