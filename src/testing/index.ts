/**
 * `agent-mesh/testing`: what a test of an agent needs. A development CA with identities in a temporary directory,
 * and a whole mesh on loopback (that CA, a control plane with the in-memory store, agents started in it) so that a
 * test calls its agents over real gRPC and mTLS, and closes it all when it ends.
 */

export { createTestCertificates, startTestMesh } from './test-mesh.js';
export type { TestCertificates, TestCertificatesOptions, TestMesh, TestMeshOptions } from './test-mesh.js';
