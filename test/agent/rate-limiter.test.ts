import { describe, expect, it } from 'vitest';
import { CallerRateLimiter } from '../../src/agent/rate-limiter.js';
import type { RateLimit } from '../../src/core/policy.js';

const limit = (fields: Partial<RateLimit> & Pick<RateLimit, 'id'>): RateLimit => ({
  callers: [],
  callerTypes: [],
  targetTypes: [],
  methods: [],
  requestsPerSecond: 0,
  burst: 0,
  tokensPerMinute: 0,
  ...fields,
});
const call = { caller: 'spiffe://agentmesh.local/agent/c', targetType: 'llm', method: 'complete' };

/** The callee's per-caller budgets (a fixed clock: no time passes). */
describe('CallerRateLimiter', () => {
  it('charges nothing for a call refused by any limit, nor for one checked but never run', () => {
    const limiter = new CallerRateLimiter({ now: () => 0 });
    const calls = limit({ id: 'calls', requestsPerSecond: 1, burst: 3 });
    const tokens = limit({ id: 'tokens', tokensPerMinute: 10 });
    limiter.check([calls, tokens], call).take()(100); // one call ran: the token budget is in debt
    for (let i = 0; i < 5; i += 1) expect(() => limiter.check([calls, tokens], call)).toThrow(/"tokens"/);
    limiter.check([calls], call); // checked, not taken (e.g. refused by the agent's queue)
    limiter.check([calls], call).take();
    limiter.check([calls], call).take();
    // Three calls ran, the burst is 3: the fourth is refused.
    expect(() => limiter.check([calls], call)).toThrow(/rate limit "calls"/);
  });
});
