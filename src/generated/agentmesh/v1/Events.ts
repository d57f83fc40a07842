// Original file: proto/agentmesh/v1/events.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { PublishRequest as _agentmesh_v1_PublishRequest, PublishRequest__Output as _agentmesh_v1_PublishRequest__Output } from '../../agentmesh/v1/PublishRequest.js';
import type { PublishResponse as _agentmesh_v1_PublishResponse, PublishResponse__Output as _agentmesh_v1_PublishResponse__Output } from '../../agentmesh/v1/PublishResponse.js';

export interface EventsClient extends grpc.Client {
  /**
   * Publishes one event as the agent behind the outbound port, to every subscription whose pattern matches its
   * topic (one member of each queue group). Answers once the event is accepted for delivery: held by the sidecar
   * until every subscription it was routed to acknowledges it (at-least-once; see docs/events.md for what a crash of
   * the sidecar's process loses). A publish that no subscription matches is accepted with no routes.
   * Errors: INVALID_ARGUMENT for an invalid topic (wildcards, empty segments, more than 16 segments of at most 64
   * characters), an id or key over 256 characters; RESOURCE_EXHAUSTED for a payload over the agent's limit (1 MiB by default)
   * or when too many deliveries are pending; PERMISSION_DENIED when the policies do not let the agent publish to the
   * topic; FAILED_PRECONDITION for a topic outside the agent's declared `--publish` patterns, or when the event would
   * exceed the hop limit (an event loop); UNAVAILABLE while the sidecar stops.
   */
  Publish(argument: _agentmesh_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  Publish(argument: _agentmesh_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  Publish(argument: _agentmesh_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  Publish(argument: _agentmesh_v1_PublishRequest, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Publishes one event as the agent behind the outbound port, to every subscription whose pattern matches its
   * topic (one member of each queue group). Answers once the event is accepted for delivery: held by the sidecar
   * until every subscription it was routed to acknowledges it (at-least-once; see docs/events.md for what a crash of
   * the sidecar's process loses). A publish that no subscription matches is accepted with no routes.
   * Errors: INVALID_ARGUMENT for an invalid topic (wildcards, empty segments, more than 16 segments of at most 64
   * characters), an id or key over 256 characters; RESOURCE_EXHAUSTED for a payload over the agent's limit (1 MiB by default)
   * or when too many deliveries are pending; PERMISSION_DENIED when the policies do not let the agent publish to the
   * topic; FAILED_PRECONDITION for a topic outside the agent's declared `--publish` patterns, or when the event would
   * exceed the hop limit (an event loop); UNAVAILABLE while the sidecar stops.
   */
  publish(argument: _agentmesh_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  publish(argument: _agentmesh_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  publish(argument: _agentmesh_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  publish(argument: _agentmesh_v1_PublishRequest, callback: grpc.requestCallback<_agentmesh_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface EventsHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Publishes one event as the agent behind the outbound port, to every subscription whose pattern matches its
   * topic (one member of each queue group). Answers once the event is accepted for delivery: held by the sidecar
   * until every subscription it was routed to acknowledges it (at-least-once; see docs/events.md for what a crash of
   * the sidecar's process loses). A publish that no subscription matches is accepted with no routes.
   * Errors: INVALID_ARGUMENT for an invalid topic (wildcards, empty segments, more than 16 segments of at most 64
   * characters), an id or key over 256 characters; RESOURCE_EXHAUSTED for a payload over the agent's limit (1 MiB by default)
   * or when too many deliveries are pending; PERMISSION_DENIED when the policies do not let the agent publish to the
   * topic; FAILED_PRECONDITION for a topic outside the agent's declared `--publish` patterns, or when the event would
   * exceed the hop limit (an event loop); UNAVAILABLE while the sidecar stops.
   */
  Publish: grpc.handleUnaryCall<_agentmesh_v1_PublishRequest__Output, _agentmesh_v1_PublishResponse>;
  
}

export interface EventsDefinition extends grpc.ServiceDefinition {
  Publish: MethodDefinition<_agentmesh_v1_PublishRequest, _agentmesh_v1_PublishResponse, _agentmesh_v1_PublishRequest__Output, _agentmesh_v1_PublishResponse__Output>
}
