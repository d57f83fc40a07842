/**
 * `agent-mesh/core`: the mesh's domain, free of I/O and grpc-js. Errors and results, durations, SPIFFE IDs, agent
 * records and cards, label selectors, policies and their evaluation, topics and subscriptions, call context and
 * priorities: what the control plane, the data plane and pub/sub agree on, for code that reasons about the mesh
 * without talking to it (policy tooling, custom balancers, tests of pure logic).
 */

// Errors and results
export { Code, MeshError, codeName, ok, err, fail, unwrap, quote } from './errors.js';
export type { Result } from './errors.js';
export { parseDuration, formatDuration } from './duration.js';
export { MESH_VERSION } from './version.js';

// SPIFFE IDs
export {
  CONTROL_PLANE_NAME,
  parseSpiffeId,
  spiffeIdFrom,
  identitySpiffeId,
  trustDomainSpiffeId,
  identityNameOf,
  validateIdentityName,
  validateTrustDomain,
} from './spiffe-id.js';
export type { SpiffeId, VerifiedPeer } from './spiffe-id.js';
export { MAX_ENTITLED_TYPES, validateAgentType, validateEntitledTypes } from './agent-types.js';

// Agent records, cards, label selectors
export { DEFAULT_WEIGHT, MAX_SPEC_BYTES, offersSkill, validateSkills, validateSpec } from './agent-record.js';
export type { AgentRecord, AgentSpec, Health, LoadReport, Skill } from './agent-record.js';
export { A2A_PROTOCOL_VERSION, agentCard, toA2aAgentCard } from './agent-card.js';
export type { AgentCard } from './agent-card.js';
export { matchesLabels, parseLabelSelector } from './label-selector.js';
export type { LabelRequirement, LabelSelector } from './label-selector.js';
export type { CallReport } from './call-report.js';

// Policies and their evaluation
export {
  ALLOW_ALL,
  authorize,
  entitledTypes,
  grantedPriority,
  isRevoked,
  validatePolicySet,
} from './policy.js';
export type {
  AccessDecision,
  AccessRequest,
  EntitledIdentity,
  Grant,
  PolicyAction,
  PolicyEffect,
  PolicyRule,
  PolicySet,
  RateLimit,
} from './policy.js';

// Topics and subscriptions
export {
  MAX_TOPIC_SEGMENTS,
  matchesTopic,
  patternCovers,
  patternsOverlap,
  validatePattern,
  validateTopic,
} from './topic.js';
export { DEFAULT_MAX_IN_FLIGHT, validateSubscriptions } from './subscription.js';
export type { Subscription } from './subscription.js';

// What a watcher of the registry follows
export {
  compileScope,
  describeQuery,
  matchesQuery,
  queryKey,
  ScopeMatcher,
  SCOPE_LIMITS,
} from './watch-scope.js';
export type { TargetQuery, WatchScope } from './watch-scope.js';

// Call context, priorities, backoff
export {
  CONTEXT_KEYS,
  DEFAULT_HOP_LIMIT,
  childTraceparent,
  contextFromMetadata,
  currentContext,
  newTraceparent,
  outboundContext,
  runWithContext,
} from './call-context.js';
export type { CallContext } from './call-context.js';
export { PRIORITY_CLASSES, priorityClass } from './priority.js';
export type { PriorityClass } from './priority.js';
export type { BackoffSettings } from './backoff.js';
export { checkArrivalDeadline, composeServerInterceptors, failureOf } from './server-call.js';
export type {
  CallEnded,
  ServerCall,
  ServerCallKind,
  ServerHandler,
  ServerInterceptor,
} from './server-call.js';
