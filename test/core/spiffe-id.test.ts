import { describe, expect, it } from 'vitest';
import {
  identityNameOf,
  identitySpiffeId,
  parseSpiffeId,
  validateIdentityName,
  validateTrustDomain,
} from '../../src/core/spiffe-id.js';

describe('SPIFFE IDs', () => {
  it('parses a workload ID into trust domain and path', () => {
    const parsed = parseSpiffeId('spiffe://agentmesh.local/agent/summarizer-1');
    expect(parsed).toEqual({
      ok: true,
      value: {
        trustDomain: 'agentmesh.local',
        path: '/agent/summarizer-1',
        uri: 'spiffe://agentmesh.local/agent/summarizer-1',
      },
    });
  });

  it('parses a trust domain ID with an empty path', () => {
    expect(parseSpiffeId('spiffe://agentmesh.local')).toMatchObject({ ok: true, value: { path: '' } });
  });

  it.each([
    ['http://agentmesh.local/agent/a', /must start with "spiffe:\/\/"/],
    ['spiffe://AgentMesh.local/agent/a', /invalid trust domain/],
    ['spiffe://agentmesh.local:8443/agent/a', /invalid trust domain/],
    ['spiffe://user@agentmesh.local/agent/a', /invalid trust domain/],
    ['spiffe:///agent/a', /trust domain is empty/],
    ['spiffe://agentmesh.local/agent/a/', /trailing "\/"/],
    ['spiffe://agentmesh.local/agent//a', /path segment is empty/],
    ['spiffe://agentmesh.local/agent/../a', /relative paths/],
    ['spiffe://agentmesh.local/agent/./a', /relative paths/],
    ['spiffe://agentmesh.local/agent/a?x=1', /query, fragment and percent-encoding/],
    ['spiffe://agentmesh.local/agent/a#f', /query, fragment and percent-encoding/],
    ['spiffe://agentmesh.local/agent/%41', /query, fragment and percent-encoding/],
    ['spiffe://agentmesh.local/agent/a b', /invalid path segment/],
  ])('rejects %s', (uri, message) => {
    const parsed = parseSpiffeId(uri);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(message);
  });

  it('maps names to agent and control-plane IDs and back', () => {
    const agent = identitySpiffeId('agentmesh.local', 'summarizer-1');
    expect(agent.uri).toBe('spiffe://agentmesh.local/agent/summarizer-1');
    expect(identityNameOf(agent)).toBe('summarizer-1');
    const controlPlane = identitySpiffeId('agentmesh.local', 'control-plane');
    expect(controlPlane.uri).toBe('spiffe://agentmesh.local/control-plane');
    expect(identityNameOf(controlPlane)).toBe('control-plane');
    expect(identityNameOf({ trustDomain: 'x', path: '/ns/default/sa/web', uri: '' })).toBeUndefined();
  });

  it.each(['', '../x', '.', '..', 'a/b', 'a b', 'é', 'x'.repeat(64)])('rejects the name %j', (name) => {
    expect(validateIdentityName(name).ok).toBe(false);
  });

  it('reserves control-plane for the control plane', () => {
    expect(validateIdentityName('control-plane').ok).toBe(false);
    expect(validateIdentityName('control-plane', { allowControlPlane: true }).ok).toBe(true);
  });

  it('accepts lowercase trust domains only', () => {
    expect(validateTrustDomain('prod.example-1_x').ok).toBe(true);
    expect(validateTrustDomain('Prod').ok).toBe(false);
    expect(validateTrustDomain('').ok).toBe(false);
  });
});
