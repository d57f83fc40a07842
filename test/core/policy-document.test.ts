import { describe, expect, it } from 'vitest';
import { policyDocument, policySetFromDocument } from '../../src/core/policy-document.js';
import type { PolicySet } from '../../src/core/policy.js';

const FULL: PolicySet = {
  defaultEffect: 'deny',
  rules: [
    {
      id: 'planner-calls',
      effect: 'allow',
      actions: ['invoke'],
      callers: ['spiffe://agentmesh.local/agent/planner-*'],
      callerTypes: [],
      targetTypes: ['summarizer'],
      methods: ['summarize*'],
      topics: [],
    },
  ],
  rateLimits: [
    {
      id: 'slow',
      callers: [],
      callerTypes: ['planner'],
      targetTypes: [],
      methods: [],
      requestsPerSecond: 5,
      burst: 0,
      tokensPerMinute: 0,
    },
  ],
  grants: [
    {
      id: 'ops',
      callers: ['spiffe://agentmesh.local/agent/ops'],
      callerTypes: [],
      types: ['ops'],
      priority: '',
    },
  ],
  revokedIdentities: ['spiffe://agentmesh.local/agent/stolen'],
};

describe('policy files', () => {
  it('writes a set without its empty lists and defaults, and reads it back as the same set', () => {
    const document = policyDocument(FULL);
    expect(document.rules).toEqual([
      {
        id: 'planner-calls',
        effect: 'allow',
        actions: ['invoke'],
        callers: ['spiffe://agentmesh.local/agent/planner-*'],
        targetTypes: ['summarizer'],
        methods: ['summarize*'],
      },
    ]);
    expect(document.rateLimits).toEqual([{ id: 'slow', callerTypes: ['planner'], requestsPerSecond: 5 }]);
    const read = policySetFromDocument(JSON.parse(JSON.stringify(document)));
    expect(read).toEqual({ ok: true, value: FULL });
  });

  it.each([
    [[], /one object with defaultEffect and rules/],
    [{ defaultEffect: 'allow', rules: [], rulez: [] }, /unknown field "rulez"/],
    [{ defaultEffect: 'maybe', rules: [] }, /default effect must be "allow" or "deny"/],
    [{ rules: [] }, /defaultEffect must be "allow" or "deny"/],
    [{ defaultEffect: 'allow', rules: {} }, /rules must be a list/],
    [{ defaultEffect: 'allow', rules: ['x'] }, /rules\[0\] must be an object/],
    [{ defaultEffect: 'allow', rules: [{ effect: 'deny' }] }, /rules\[0\] needs an id/],
    [
      { defaultEffect: 'allow', rules: [{ id: 'a', effect: 'deny', callers: 'x' }] },
      /rule "a": callers must be a list of strings/,
    ],
    [
      { defaultEffect: 'allow', rules: [{ id: 'a', effect: 'deny', actions: ['fly'] }] },
      /unknown action "fly"/,
    ],
    [
      { defaultEffect: 'allow', rules: [], rateLimits: [{ id: 'r', burst: 'lots' }] },
      /rate limit "r": burst must be a number/,
    ],
    [
      { defaultEffect: 'allow', rules: [], grants: [{ id: 'g', priority: 3 }] },
      /grant "g": priority must be a string/,
    ],
    [
      { defaultEffect: 'allow', rules: [], revokedIdentities: [7] },
      /revokedIdentities must be a list of strings/,
    ],
  ])('refuses %j, naming the problem', (document, message) => {
    const read = policySetFromDocument(document);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.error.message).toMatch(message);
  });
});
