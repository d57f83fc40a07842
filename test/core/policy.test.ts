import { describe, expect, it } from 'vitest';
import { authorize, validatePolicySet, type PolicyRule, type PolicySet } from '../../src/core/policy.js';
import { matchesTopic, patternCovers, validatePattern, validateTopic } from '../../src/core/topic.js';

const rule = (fields: Partial<PolicyRule> & Pick<PolicyRule, 'id' | 'effect'>): PolicyRule => ({
  actions: [],
  callers: [],
  callerTypes: [],
  targetTypes: [],
  methods: [],
  topics: [],
  ...fields,
});

describe('policies', () => {
  const policies: PolicySet = {
    defaultEffect: 'deny',
    rules: [
      rule({
        id: 'planners-call-workers',
        effect: 'allow',
        actions: ['invoke'],
        callerTypes: ['planner'],
        targetTypes: ['worker'],
        methods: ['run*'],
      }),
      rule({ id: 'billing-agents', effect: 'allow', callers: ['spiffe://t/agent/billing-*'] }),
      rule({ id: 'no-billing-secrets', effect: 'deny', actions: ['subscribe'], topics: ['secrets.>'] }),
      rule({ id: 'tasks', effect: 'allow', actions: ['publish', 'subscribe'], topics: ['tasks.*'] }),
    ],
  };
  const caller = 'spiffe://t/agent/p-1';

  it('allows what a rule allows and denies by default', () => {
    expect(
      authorize(policies, {
        caller,
        callerTypes: ['planner'],
        action: 'invoke',
        targetType: 'worker',
        method: 'run.fast',
      }),
    ).toEqual({ allowed: true, ruleId: 'planners-call-workers' });
    expect(
      authorize(policies, {
        caller,
        callerTypes: ['planner'],
        action: 'invoke',
        targetType: 'worker',
        method: 'stop',
      }),
    ).toEqual({ allowed: false });
    expect(
      authorize(policies, {
        caller,
        callerTypes: ['worker'],
        action: 'invoke',
        targetType: 'worker',
        method: 'run',
      }).allowed,
    ).toBe(false);
  });

  it('matches caller patterns within one path segment', () => {
    expect(
      authorize(policies, { caller: 'spiffe://t/agent/billing-7', action: 'publish', topic: 'invoices.paid' })
        .allowed,
    ).toBe(true);
    expect(
      authorize(policies, {
        caller: 'spiffe://t/agent/billing-7/x',
        action: 'publish',
        topic: 'invoices.paid',
      }).allowed,
    ).toBe(false);
  });

  it('lets a deny rule win over an allow rule', () => {
    expect(
      authorize(policies, {
        caller: 'spiffe://t/agent/billing-7',
        action: 'subscribe',
        pattern: 'secrets.keys',
      }),
    ).toEqual({ allowed: false, ruleId: 'no-billing-secrets' });
  });

  it('checks that a subscription pattern is covered by the allowed topics', () => {
    expect(authorize(policies, { caller, action: 'subscribe', pattern: 'tasks.created' }).allowed).toBe(true);
    expect(authorize(policies, { caller, action: 'subscribe', pattern: 'tasks.*' }).allowed).toBe(true);
    expect(authorize(policies, { caller, action: 'subscribe', pattern: 'tasks.>' }).allowed).toBe(false);
    expect(authorize(policies, { caller, action: 'publish', topic: 'tasks.created.late' }).allowed).toBe(
      false,
    );
  });

  it('refuses malformed policy sets', () => {
    expect(validatePolicySet(policies).ok).toBe(true);
    const bad = (set: PolicySet) => {
      const result = validatePolicySet(set);
      return result.ok ? '' : result.error.message;
    };
    expect(bad({ ...policies, defaultEffect: 'maybe' as never })).toMatch(/default effect/);
    expect(
      bad({
        defaultEffect: 'allow',
        rules: [rule({ id: 'a', effect: 'allow' }), rule({ id: 'a', effect: 'deny' })],
      }),
    ).toMatch(/used twice/);
    expect(
      bad({
        defaultEffect: 'allow',
        rules: [rule({ id: 'a', effect: 'allow', actions: ['delete' as never] })],
      }),
    ).toMatch(/unknown action/);
    expect(
      bad({ defaultEffect: 'allow', rules: [rule({ id: 'a', effect: 'allow', callers: ['agent/x'] })] }),
    ).toMatch(/spiffe:\/\//);
    expect(
      bad({ defaultEffect: 'allow', rules: [rule({ id: 'a', effect: 'allow', topics: ['a.>.b'] })] }),
    ).toMatch(/topic pattern/);
  });
});

describe('topics and patterns', () => {
  it.each([
    ['tasks.*', 'tasks.created', true],
    ['tasks.*', 'tasks.created.late', false],
    ['tasks.>', 'tasks.created.late', true],
    ['tasks.>', 'tasks', false],
    ['*.created', 'tasks.created', true],
    ['tasks.created', 'tasks.created', true],
    ['>', 'anything.at.all', true],
  ])('%s matches %s: %s', (pattern, topic, expected) => {
    expect(matchesTopic(pattern, topic)).toBe(expected);
  });

  it('knows which patterns cover which', () => {
    expect(patternCovers('tasks.>', 'tasks.*')).toBe(true);
    expect(patternCovers('tasks.*', 'tasks.>')).toBe(false);
    expect(patternCovers('*.*', 'tasks.created')).toBe(true);
    expect(patternCovers('tasks.created', 'tasks.*')).toBe(false);
  });

  it('rejects invalid topics and patterns', () => {
    for (const topic of ['', 'a..b', 'a.*', 'a.>', 'has space', '.a'])
      expect(validateTopic(topic).ok, topic).toBe(false);
    for (const pattern of ['', 'a..b', 'a.>.b', 'a.b*'])
      expect(validatePattern(pattern).ok, pattern).toBe(false);
    expect(validatePattern('a.*.>').ok).toBe(true);
  });
});
