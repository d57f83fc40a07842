// Original file: proto/agentmesh/v1/control_plane.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from '../../agentmesh/v1/AgentRecord.js';
import type { ControlPlaneInfo as _agentmesh_v1_ControlPlaneInfo, ControlPlaneInfo__Output as _agentmesh_v1_ControlPlaneInfo__Output } from '../../agentmesh/v1/ControlPlaneInfo.js';
import type { DeregisterRequest as _agentmesh_v1_DeregisterRequest, DeregisterRequest__Output as _agentmesh_v1_DeregisterRequest__Output } from '../../agentmesh/v1/DeregisterRequest.js';
import type { DeregisterResponse as _agentmesh_v1_DeregisterResponse, DeregisterResponse__Output as _agentmesh_v1_DeregisterResponse__Output } from '../../agentmesh/v1/DeregisterResponse.js';
import type { DescribeEventsRequest as _agentmesh_v1_DescribeEventsRequest, DescribeEventsRequest__Output as _agentmesh_v1_DescribeEventsRequest__Output } from '../../agentmesh/v1/DescribeEventsRequest.js';
import type { DescribeEventsResponse as _agentmesh_v1_DescribeEventsResponse, DescribeEventsResponse__Output as _agentmesh_v1_DescribeEventsResponse__Output } from '../../agentmesh/v1/DescribeEventsResponse.js';
import type { DiscoverRequest as _agentmesh_v1_DiscoverRequest, DiscoverRequest__Output as _agentmesh_v1_DiscoverRequest__Output } from '../../agentmesh/v1/DiscoverRequest.js';
import type { DiscoverResponse as _agentmesh_v1_DiscoverResponse, DiscoverResponse__Output as _agentmesh_v1_DiscoverResponse__Output } from '../../agentmesh/v1/DiscoverResponse.js';
import type { GetAgentRequest as _agentmesh_v1_GetAgentRequest, GetAgentRequest__Output as _agentmesh_v1_GetAgentRequest__Output } from '../../agentmesh/v1/GetAgentRequest.js';
import type { GetEventStoreRequest as _agentmesh_v1_GetEventStoreRequest, GetEventStoreRequest__Output as _agentmesh_v1_GetEventStoreRequest__Output } from '../../agentmesh/v1/GetEventStoreRequest.js';
import type { GetEventStoreResponse as _agentmesh_v1_GetEventStoreResponse, GetEventStoreResponse__Output as _agentmesh_v1_GetEventStoreResponse__Output } from '../../agentmesh/v1/GetEventStoreResponse.js';
import type { GetInfoRequest as _agentmesh_v1_GetInfoRequest, GetInfoRequest__Output as _agentmesh_v1_GetInfoRequest__Output } from '../../agentmesh/v1/GetInfoRequest.js';
import type { GetPoliciesRequest as _agentmesh_v1_GetPoliciesRequest, GetPoliciesRequest__Output as _agentmesh_v1_GetPoliciesRequest__Output } from '../../agentmesh/v1/GetPoliciesRequest.js';
import type { HeartbeatRequest as _agentmesh_v1_HeartbeatRequest, HeartbeatRequest__Output as _agentmesh_v1_HeartbeatRequest__Output } from '../../agentmesh/v1/HeartbeatRequest.js';
import type { HeartbeatResponse as _agentmesh_v1_HeartbeatResponse, HeartbeatResponse__Output as _agentmesh_v1_HeartbeatResponse__Output } from '../../agentmesh/v1/HeartbeatResponse.js';
import type { ListDeadLettersRequest as _agentmesh_v1_ListDeadLettersRequest, ListDeadLettersRequest__Output as _agentmesh_v1_ListDeadLettersRequest__Output } from '../../agentmesh/v1/ListDeadLettersRequest.js';
import type { ListDeadLettersResponse as _agentmesh_v1_ListDeadLettersResponse, ListDeadLettersResponse__Output as _agentmesh_v1_ListDeadLettersResponse__Output } from '../../agentmesh/v1/ListDeadLettersResponse.js';
import type { PolicySet as _agentmesh_v1_PolicySet, PolicySet__Output as _agentmesh_v1_PolicySet__Output } from '../../agentmesh/v1/PolicySet.js';
import type { RegisterRequest as _agentmesh_v1_RegisterRequest, RegisterRequest__Output as _agentmesh_v1_RegisterRequest__Output } from '../../agentmesh/v1/RegisterRequest.js';
import type { RegisterResponse as _agentmesh_v1_RegisterResponse, RegisterResponse__Output as _agentmesh_v1_RegisterResponse__Output } from '../../agentmesh/v1/RegisterResponse.js';
import type { ReplayDeadLetterRequest as _agentmesh_v1_ReplayDeadLetterRequest, ReplayDeadLetterRequest__Output as _agentmesh_v1_ReplayDeadLetterRequest__Output } from '../../agentmesh/v1/ReplayDeadLetterRequest.js';
import type { ReplayDeadLetterResponse as _agentmesh_v1_ReplayDeadLetterResponse, ReplayDeadLetterResponse__Output as _agentmesh_v1_ReplayDeadLetterResponse__Output } from '../../agentmesh/v1/ReplayDeadLetterResponse.js';
import type { SignCertificateRequest as _agentmesh_v1_SignCertificateRequest, SignCertificateRequest__Output as _agentmesh_v1_SignCertificateRequest__Output } from '../../agentmesh/v1/SignCertificateRequest.js';
import type { SignCertificateResponse as _agentmesh_v1_SignCertificateResponse, SignCertificateResponse__Output as _agentmesh_v1_SignCertificateResponse__Output } from '../../agentmesh/v1/SignCertificateResponse.js';
import type { WatchEvent as _agentmesh_v1_WatchEvent, WatchEvent__Output as _agentmesh_v1_WatchEvent__Output } from '../../agentmesh/v1/WatchEvent.js';
import type { WatchRequest as _agentmesh_v1_WatchRequest, WatchRequest__Output as _agentmesh_v1_WatchRequest__Output } from '../../agentmesh/v1/WatchRequest.js';

export interface ControlPlaneClient extends grpc.Client {
  /**
   * Removes an agent from the registry; watchers hear it at once. Errors: NOT_FOUND, PERMISSION_DENIED.
   */
  Deregister(argument: _agentmesh_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _agentmesh_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _agentmesh_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _agentmesh_v1_DeregisterRequest, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Removes an agent from the registry; watchers hear it at once. Errors: NOT_FOUND, PERMISSION_DENIED.
   */
  deregister(argument: _agentmesh_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _agentmesh_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _agentmesh_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _agentmesh_v1_DeregisterRequest, callback: grpc.requestCallback<_agentmesh_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The event store's state for operators: the stream, its topics, and each subscription's consumer with its
   * lag. Only the control plane's own identity and its administrators may call it (PERMISSION_DENIED otherwise).
   * Errors: FAILED_PRECONDITION when the mesh has no event store (brokerless); UNAVAILABLE when NATS is unreachable.
   */
  DescribeEvents(argument: _agentmesh_v1_DescribeEventsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  DescribeEvents(argument: _agentmesh_v1_DescribeEventsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  DescribeEvents(argument: _agentmesh_v1_DescribeEventsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  DescribeEvents(argument: _agentmesh_v1_DescribeEventsRequest, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The event store's state for operators: the stream, its topics, and each subscription's consumer with its
   * lag. Only the control plane's own identity and its administrators may call it (PERMISSION_DENIED otherwise).
   * Errors: FAILED_PRECONDITION when the mesh has no event store (brokerless); UNAVAILABLE when NATS is unreachable.
   */
  describeEvents(argument: _agentmesh_v1_DescribeEventsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  describeEvents(argument: _agentmesh_v1_DescribeEventsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  describeEvents(argument: _agentmesh_v1_DescribeEventsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  describeEvents(argument: _agentmesh_v1_DescribeEventsRequest, callback: grpc.requestCallback<_agentmesh_v1_DescribeEventsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Finds registered agents that match every given filter.
   * Errors: INVALID_ARGUMENT for a malformed label selector.
   */
  Discover(argument: _agentmesh_v1_DiscoverRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  Discover(argument: _agentmesh_v1_DiscoverRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  Discover(argument: _agentmesh_v1_DiscoverRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  Discover(argument: _agentmesh_v1_DiscoverRequest, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Finds registered agents that match every given filter.
   * Errors: INVALID_ARGUMENT for a malformed label selector.
   */
  discover(argument: _agentmesh_v1_DiscoverRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  discover(argument: _agentmesh_v1_DiscoverRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  discover(argument: _agentmesh_v1_DiscoverRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  discover(argument: _agentmesh_v1_DiscoverRequest, callback: grpc.requestCallback<_agentmesh_v1_DiscoverResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Returns one registered agent. Errors: NOT_FOUND.
   */
  GetAgent(argument: _agentmesh_v1_GetAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  GetAgent(argument: _agentmesh_v1_GetAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  GetAgent(argument: _agentmesh_v1_GetAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  GetAgent(argument: _agentmesh_v1_GetAgentRequest, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  /**
   * Returns one registered agent. Errors: NOT_FOUND.
   */
  getAgent(argument: _agentmesh_v1_GetAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  getAgent(argument: _agentmesh_v1_GetAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  getAgent(argument: _agentmesh_v1_GetAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  getAgent(argument: _agentmesh_v1_GetAgentRequest, callback: grpc.requestCallback<_agentmesh_v1_AgentRecord__Output>): grpc.ClientUnaryCall;
  
  /**
   * Says where the mesh's events are kept. Without an event store (the default), events travel from publisher to
   * subscriber directly and the answer says only that. With NATS JetStream, it issues the caller's credentials:
   * a NATS user JWT for the public key the caller sends (its seed never leaves the caller), letting it publish
   * under its own identity to the topics its policies allow and read the durable consumers of the subscriptions
   * it sends that its policies allow, which this call creates first (a subscription's `starts` entry, if any, sets
   * where a new one begins; a consumer that began elsewhere is replaced). The subscriptions are the caller's own,
   * as it registers them; they are checked here, not read from the registry, so that a grant never waits for a
   * registration (e.g. after a control plane restart).
   * Errors: INVALID_ARGUMENT for a malformed key, subscription or start; UNAVAILABLE when the event store cannot be
   * reached.
   */
  GetEventStore(argument: _agentmesh_v1_GetEventStoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  GetEventStore(argument: _agentmesh_v1_GetEventStoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  GetEventStore(argument: _agentmesh_v1_GetEventStoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  GetEventStore(argument: _agentmesh_v1_GetEventStoreRequest, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Says where the mesh's events are kept. Without an event store (the default), events travel from publisher to
   * subscriber directly and the answer says only that. With NATS JetStream, it issues the caller's credentials:
   * a NATS user JWT for the public key the caller sends (its seed never leaves the caller), letting it publish
   * under its own identity to the topics its policies allow and read the durable consumers of the subscriptions
   * it sends that its policies allow, which this call creates first (a subscription's `starts` entry, if any, sets
   * where a new one begins; a consumer that began elsewhere is replaced). The subscriptions are the caller's own,
   * as it registers them; they are checked here, not read from the registry, so that a grant never waits for a
   * registration (e.g. after a control plane restart).
   * Errors: INVALID_ARGUMENT for a malformed key, subscription or start; UNAVAILABLE when the event store cannot be
   * reached.
   */
  getEventStore(argument: _agentmesh_v1_GetEventStoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  getEventStore(argument: _agentmesh_v1_GetEventStoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  getEventStore(argument: _agentmesh_v1_GetEventStoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  getEventStore(argument: _agentmesh_v1_GetEventStoreRequest, callback: grpc.requestCallback<_agentmesh_v1_GetEventStoreResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Describes the replica that answers: its version, its clock, its store and whether the store answers now.
   * Any identity of the mesh may call it (`agent-mesh version`, `agent-mesh check`).
   */
  GetInfo(argument: _agentmesh_v1_GetInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _agentmesh_v1_GetInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _agentmesh_v1_GetInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _agentmesh_v1_GetInfoRequest, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Describes the replica that answers: its version, its clock, its store and whether the store answers now.
   * Any identity of the mesh may call it (`agent-mesh version`, `agent-mesh check`).
   */
  getInfo(argument: _agentmesh_v1_GetInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _agentmesh_v1_GetInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _agentmesh_v1_GetInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _agentmesh_v1_GetInfoRequest, callback: grpc.requestCallback<_agentmesh_v1_ControlPlaneInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Returns the authorization policies in force.
   */
  GetPolicies(argument: _agentmesh_v1_GetPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  GetPolicies(argument: _agentmesh_v1_GetPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  GetPolicies(argument: _agentmesh_v1_GetPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  GetPolicies(argument: _agentmesh_v1_GetPoliciesRequest, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  /**
   * Returns the authorization policies in force.
   */
  getPolicies(argument: _agentmesh_v1_GetPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  getPolicies(argument: _agentmesh_v1_GetPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  getPolicies(argument: _agentmesh_v1_GetPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  getPolicies(argument: _agentmesh_v1_GetPoliciesRequest, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  
  /**
   * Renews an agent's lease and reports its load; also how an agent marks itself draining.
   * Errors: NOT_FOUND when the lease already ended (register again), PERMISSION_DENIED for another agent's id.
   * 
   * Register and Heartbeat are rate limited per caller identity: a caller over its limit is refused with
   * RESOURCE_EXHAUSTED and a `retry-after-ms` trailer saying when to try again.
   */
  Heartbeat(argument: _agentmesh_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _agentmesh_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _agentmesh_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _agentmesh_v1_HeartbeatRequest, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Renews an agent's lease and reports its load; also how an agent marks itself draining.
   * Errors: NOT_FOUND when the lease already ended (register again), PERMISSION_DENIED for another agent's id.
   * 
   * Register and Heartbeat are rate limited per caller identity: a caller over its limit is refused with
   * RESOURCE_EXHAUSTED and a `retry-after-ms` trailer saying when to try again.
   */
  heartbeat(argument: _agentmesh_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _agentmesh_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _agentmesh_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _agentmesh_v1_HeartbeatRequest, callback: grpc.requestCallback<_agentmesh_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Lists the dead letters kept in the event store, newest last, and replays one: its original event is published
   * again to its topic, by the caller (every subscription of the topic receives it: handlers recognize a
   * redelivery by the event id, which is the original's). Administrators only, as DescribeEvents.
   * Errors: FAILED_PRECONDITION without an event store; NOT_FOUND for a sequence that is not a dead letter.
   */
  ListDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  ListDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  ListDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  ListDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Lists the dead letters kept in the event store, newest last, and replays one: its original event is published
   * again to its topic, by the caller (every subscription of the topic receives it: handlers recognize a
   * redelivery by the event id, which is the original's). Administrators only, as DescribeEvents.
   * Errors: FAILED_PRECONDITION without an event store; NOT_FOUND for a sequence that is not a dead letter.
   */
  listDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  listDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  listDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  listDeadLetters(argument: _agentmesh_v1_ListDeadLettersRequest, callback: grpc.requestCallback<_agentmesh_v1_ListDeadLettersResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Adds the caller's agent to the registry (or replaces its previous registration) and starts its lease.
   * Errors: INVALID_ARGUMENT for a malformed spec, PERMISSION_DENIED when `spec.name` is not the caller's own name
   * or when the policies do not allow one of `spec.subscriptions`.
   */
  Register(argument: _agentmesh_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _agentmesh_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _agentmesh_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _agentmesh_v1_RegisterRequest, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Adds the caller's agent to the registry (or replaces its previous registration) and starts its lease.
   * Errors: INVALID_ARGUMENT for a malformed spec, PERMISSION_DENIED when `spec.name` is not the caller's own name
   * or when the policies do not allow one of `spec.subscriptions`.
   */
  register(argument: _agentmesh_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _agentmesh_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _agentmesh_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _agentmesh_v1_RegisterRequest, callback: grpc.requestCallback<_agentmesh_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  
  ReplayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  ReplayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  ReplayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  ReplayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  replayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  replayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  replayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  replayDeadLetter(argument: _agentmesh_v1_ReplayDeadLetterRequest, callback: grpc.requestCallback<_agentmesh_v1_ReplayDeadLetterResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Replaces the authorization policies; every watcher receives them. Only the control plane's own identity and
   * the administrators it was started with may call it (PERMISSION_DENIED otherwise).
   * Errors: INVALID_ARGUMENT for a malformed policy set.
   */
  SetPolicies(argument: _agentmesh_v1_PolicySet, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  SetPolicies(argument: _agentmesh_v1_PolicySet, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  SetPolicies(argument: _agentmesh_v1_PolicySet, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  SetPolicies(argument: _agentmesh_v1_PolicySet, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  /**
   * Replaces the authorization policies; every watcher receives them. Only the control plane's own identity and
   * the administrators it was started with may call it (PERMISSION_DENIED otherwise).
   * Errors: INVALID_ARGUMENT for a malformed policy set.
   */
  setPolicies(argument: _agentmesh_v1_PolicySet, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  setPolicies(argument: _agentmesh_v1_PolicySet, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  setPolicies(argument: _agentmesh_v1_PolicySet, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  setPolicies(argument: _agentmesh_v1_PolicySet, callback: grpc.requestCallback<_agentmesh_v1_PolicySet__Output>): grpc.ClientUnaryCall;
  
  /**
   * Signs a certificate signing request and returns the new certificate with the trust bundle. The private key
   * never leaves the agent: only the CSR travels. Renewal is authorized by the caller's current certificate, a
   * first join by a one-time join token.
   * Errors: INVALID_ARGUMENT for a malformed CSR, PERMISSION_DENIED for a CSR naming another identity,
   * UNAUTHENTICATED for a missing, expired or already used join token.
   */
  SignCertificate(argument: _agentmesh_v1_SignCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  SignCertificate(argument: _agentmesh_v1_SignCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  SignCertificate(argument: _agentmesh_v1_SignCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  SignCertificate(argument: _agentmesh_v1_SignCertificateRequest, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Signs a certificate signing request and returns the new certificate with the trust bundle. The private key
   * never leaves the agent: only the CSR travels. Renewal is authorized by the caller's current certificate, a
   * first join by a one-time join token.
   * Errors: INVALID_ARGUMENT for a malformed CSR, PERMISSION_DENIED for a CSR naming another identity,
   * UNAUTHENTICATED for a missing, expired or already used join token.
   */
  signCertificate(argument: _agentmesh_v1_SignCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  signCertificate(argument: _agentmesh_v1_SignCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  signCertificate(argument: _agentmesh_v1_SignCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  signCertificate(argument: _agentmesh_v1_SignCertificateRequest, callback: grpc.requestCallback<_agentmesh_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Streams the registry: first a snapshot (or, when resuming, the changes missed since `since_revision`), then
   * each change as it happens. The stream stays open until the client cancels it.
   */
  Watch(argument: _agentmesh_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_WatchEvent__Output>;
  Watch(argument: _agentmesh_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_WatchEvent__Output>;
  /**
   * Streams the registry: first a snapshot (or, when resuming, the changes missed since `since_revision`), then
   * each change as it happens. The stream stays open until the client cancels it.
   */
  watch(argument: _agentmesh_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_WatchEvent__Output>;
  watch(argument: _agentmesh_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_WatchEvent__Output>;
  
}

export interface ControlPlaneHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Removes an agent from the registry; watchers hear it at once. Errors: NOT_FOUND, PERMISSION_DENIED.
   */
  Deregister: grpc.handleUnaryCall<_agentmesh_v1_DeregisterRequest__Output, _agentmesh_v1_DeregisterResponse>;
  
  /**
   * The event store's state for operators: the stream, its topics, and each subscription's consumer with its
   * lag. Only the control plane's own identity and its administrators may call it (PERMISSION_DENIED otherwise).
   * Errors: FAILED_PRECONDITION when the mesh has no event store (brokerless); UNAVAILABLE when NATS is unreachable.
   */
  DescribeEvents: grpc.handleUnaryCall<_agentmesh_v1_DescribeEventsRequest__Output, _agentmesh_v1_DescribeEventsResponse>;
  
  /**
   * Finds registered agents that match every given filter.
   * Errors: INVALID_ARGUMENT for a malformed label selector.
   */
  Discover: grpc.handleUnaryCall<_agentmesh_v1_DiscoverRequest__Output, _agentmesh_v1_DiscoverResponse>;
  
  /**
   * Returns one registered agent. Errors: NOT_FOUND.
   */
  GetAgent: grpc.handleUnaryCall<_agentmesh_v1_GetAgentRequest__Output, _agentmesh_v1_AgentRecord>;
  
  /**
   * Says where the mesh's events are kept. Without an event store (the default), events travel from publisher to
   * subscriber directly and the answer says only that. With NATS JetStream, it issues the caller's credentials:
   * a NATS user JWT for the public key the caller sends (its seed never leaves the caller), letting it publish
   * under its own identity to the topics its policies allow and read the durable consumers of the subscriptions
   * it sends that its policies allow, which this call creates first (a subscription's `starts` entry, if any, sets
   * where a new one begins; a consumer that began elsewhere is replaced). The subscriptions are the caller's own,
   * as it registers them; they are checked here, not read from the registry, so that a grant never waits for a
   * registration (e.g. after a control plane restart).
   * Errors: INVALID_ARGUMENT for a malformed key, subscription or start; UNAVAILABLE when the event store cannot be
   * reached.
   */
  GetEventStore: grpc.handleUnaryCall<_agentmesh_v1_GetEventStoreRequest__Output, _agentmesh_v1_GetEventStoreResponse>;
  
  /**
   * Describes the replica that answers: its version, its clock, its store and whether the store answers now.
   * Any identity of the mesh may call it (`agent-mesh version`, `agent-mesh check`).
   */
  GetInfo: grpc.handleUnaryCall<_agentmesh_v1_GetInfoRequest__Output, _agentmesh_v1_ControlPlaneInfo>;
  
  /**
   * Returns the authorization policies in force.
   */
  GetPolicies: grpc.handleUnaryCall<_agentmesh_v1_GetPoliciesRequest__Output, _agentmesh_v1_PolicySet>;
  
  /**
   * Renews an agent's lease and reports its load; also how an agent marks itself draining.
   * Errors: NOT_FOUND when the lease already ended (register again), PERMISSION_DENIED for another agent's id.
   * 
   * Register and Heartbeat are rate limited per caller identity: a caller over its limit is refused with
   * RESOURCE_EXHAUSTED and a `retry-after-ms` trailer saying when to try again.
   */
  Heartbeat: grpc.handleUnaryCall<_agentmesh_v1_HeartbeatRequest__Output, _agentmesh_v1_HeartbeatResponse>;
  
  /**
   * Lists the dead letters kept in the event store, newest last, and replays one: its original event is published
   * again to its topic, by the caller (every subscription of the topic receives it: handlers recognize a
   * redelivery by the event id, which is the original's). Administrators only, as DescribeEvents.
   * Errors: FAILED_PRECONDITION without an event store; NOT_FOUND for a sequence that is not a dead letter.
   */
  ListDeadLetters: grpc.handleUnaryCall<_agentmesh_v1_ListDeadLettersRequest__Output, _agentmesh_v1_ListDeadLettersResponse>;
  
  /**
   * Adds the caller's agent to the registry (or replaces its previous registration) and starts its lease.
   * Errors: INVALID_ARGUMENT for a malformed spec, PERMISSION_DENIED when `spec.name` is not the caller's own name
   * or when the policies do not allow one of `spec.subscriptions`.
   */
  Register: grpc.handleUnaryCall<_agentmesh_v1_RegisterRequest__Output, _agentmesh_v1_RegisterResponse>;
  
  ReplayDeadLetter: grpc.handleUnaryCall<_agentmesh_v1_ReplayDeadLetterRequest__Output, _agentmesh_v1_ReplayDeadLetterResponse>;
  
  /**
   * Replaces the authorization policies; every watcher receives them. Only the control plane's own identity and
   * the administrators it was started with may call it (PERMISSION_DENIED otherwise).
   * Errors: INVALID_ARGUMENT for a malformed policy set.
   */
  SetPolicies: grpc.handleUnaryCall<_agentmesh_v1_PolicySet__Output, _agentmesh_v1_PolicySet>;
  
  /**
   * Signs a certificate signing request and returns the new certificate with the trust bundle. The private key
   * never leaves the agent: only the CSR travels. Renewal is authorized by the caller's current certificate, a
   * first join by a one-time join token.
   * Errors: INVALID_ARGUMENT for a malformed CSR, PERMISSION_DENIED for a CSR naming another identity,
   * UNAUTHENTICATED for a missing, expired or already used join token.
   */
  SignCertificate: grpc.handleUnaryCall<_agentmesh_v1_SignCertificateRequest__Output, _agentmesh_v1_SignCertificateResponse>;
  
  /**
   * Streams the registry: first a snapshot (or, when resuming, the changes missed since `since_revision`), then
   * each change as it happens. The stream stays open until the client cancels it.
   */
  Watch: grpc.handleServerStreamingCall<_agentmesh_v1_WatchRequest__Output, _agentmesh_v1_WatchEvent>;
  
}

export interface ControlPlaneDefinition extends grpc.ServiceDefinition {
  Deregister: MethodDefinition<_agentmesh_v1_DeregisterRequest, _agentmesh_v1_DeregisterResponse, _agentmesh_v1_DeregisterRequest__Output, _agentmesh_v1_DeregisterResponse__Output>
  DescribeEvents: MethodDefinition<_agentmesh_v1_DescribeEventsRequest, _agentmesh_v1_DescribeEventsResponse, _agentmesh_v1_DescribeEventsRequest__Output, _agentmesh_v1_DescribeEventsResponse__Output>
  Discover: MethodDefinition<_agentmesh_v1_DiscoverRequest, _agentmesh_v1_DiscoverResponse, _agentmesh_v1_DiscoverRequest__Output, _agentmesh_v1_DiscoverResponse__Output>
  GetAgent: MethodDefinition<_agentmesh_v1_GetAgentRequest, _agentmesh_v1_AgentRecord, _agentmesh_v1_GetAgentRequest__Output, _agentmesh_v1_AgentRecord__Output>
  GetEventStore: MethodDefinition<_agentmesh_v1_GetEventStoreRequest, _agentmesh_v1_GetEventStoreResponse, _agentmesh_v1_GetEventStoreRequest__Output, _agentmesh_v1_GetEventStoreResponse__Output>
  GetInfo: MethodDefinition<_agentmesh_v1_GetInfoRequest, _agentmesh_v1_ControlPlaneInfo, _agentmesh_v1_GetInfoRequest__Output, _agentmesh_v1_ControlPlaneInfo__Output>
  GetPolicies: MethodDefinition<_agentmesh_v1_GetPoliciesRequest, _agentmesh_v1_PolicySet, _agentmesh_v1_GetPoliciesRequest__Output, _agentmesh_v1_PolicySet__Output>
  Heartbeat: MethodDefinition<_agentmesh_v1_HeartbeatRequest, _agentmesh_v1_HeartbeatResponse, _agentmesh_v1_HeartbeatRequest__Output, _agentmesh_v1_HeartbeatResponse__Output>
  ListDeadLetters: MethodDefinition<_agentmesh_v1_ListDeadLettersRequest, _agentmesh_v1_ListDeadLettersResponse, _agentmesh_v1_ListDeadLettersRequest__Output, _agentmesh_v1_ListDeadLettersResponse__Output>
  Register: MethodDefinition<_agentmesh_v1_RegisterRequest, _agentmesh_v1_RegisterResponse, _agentmesh_v1_RegisterRequest__Output, _agentmesh_v1_RegisterResponse__Output>
  ReplayDeadLetter: MethodDefinition<_agentmesh_v1_ReplayDeadLetterRequest, _agentmesh_v1_ReplayDeadLetterResponse, _agentmesh_v1_ReplayDeadLetterRequest__Output, _agentmesh_v1_ReplayDeadLetterResponse__Output>
  SetPolicies: MethodDefinition<_agentmesh_v1_PolicySet, _agentmesh_v1_PolicySet, _agentmesh_v1_PolicySet__Output, _agentmesh_v1_PolicySet__Output>
  SignCertificate: MethodDefinition<_agentmesh_v1_SignCertificateRequest, _agentmesh_v1_SignCertificateResponse, _agentmesh_v1_SignCertificateRequest__Output, _agentmesh_v1_SignCertificateResponse__Output>
  Watch: MethodDefinition<_agentmesh_v1_WatchRequest, _agentmesh_v1_WatchEvent, _agentmesh_v1_WatchRequest__Output, _agentmesh_v1_WatchEvent__Output>
}
