import { afterEach, describe, expect, it } from 'vitest';
import { Code, MeshError, startAgent } from '../../src/index.js';
import { createTestCertificates, startTestMesh, type TestMesh } from '../../src/testing/index.js';

describe('agent-mesh/testing', () => {
  let mesh: TestMesh | undefined;
  afterEach(async () => {
    await mesh?.close();
    mesh = undefined;
  });

  it('runs agents that call each other over mTLS in a mesh of their own', async () => {
    mesh = await startTestMesh();
    await mesh.startAgent('echo-1', {
      type: 'echo',
      methods: {
        echo: async (request, call) => ({
          payload: Buffer.from(`${call.caller.uri} said ${request.payload.toString()}`),
          contentType: 'text/plain',
        }),
      },
    });
    const caller = await mesh.startAgent('caller-1', { type: 'caller' });
    const result = await caller.mesh.call({ type: 'echo' }, 'echo', 'hi');
    expect(result.payload.toString()).toBe('spiffe://agentmesh.local/agent/caller-1 said hi');
    expect(result.agent.spec.name).toBe('echo-1');
  });

  it('issues identities entitled to the name without its instance number, or to the types asked for', async () => {
    const certificates = await createTestCertificates({ trustDomain: 'example.test' });
    try {
      const summarizer = await certificates.identity('summarizer-2');
      expect(summarizer.spiffeId.uri).toBe('spiffe://example.test/agent/summarizer-2');
      expect(summarizer.agentTypes).toEqual(['summarizer']);
      expect((await certificates.identity('multi', { types: ['a', 'b'] })).agentTypes).toEqual(['a', 'b']);
    } finally {
      await certificates.remove();
    }
  });

  it('refuses an agent whose type the identity is not entitled to', async () => {
    mesh = await startTestMesh();
    const identity = await mesh.identity('writer-1');
    const refused = await startAgent({ identity, controlPlane: mesh.address, type: 'reader' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(MeshError);
    expect((refused as MeshError).code).toBe(Code.PERMISSION_DENIED);
  });
});
