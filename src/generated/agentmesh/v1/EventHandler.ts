// Original file: proto/agentmesh/v1/events.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { HandleEventRequest as _agentmesh_v1_HandleEventRequest, HandleEventRequest__Output as _agentmesh_v1_HandleEventRequest__Output } from '../../agentmesh/v1/HandleEventRequest.js';
import type { HandleEventResponse as _agentmesh_v1_HandleEventResponse, HandleEventResponse__Output as _agentmesh_v1_HandleEventResponse__Output } from '../../agentmesh/v1/HandleEventResponse.js';

/**
 * Served by an app behind the sidecar (on the same plaintext socket as its `agentmesh.v1.Agent` and
 * `grpc.health.v1`) when the sidecar subscribes: the sidecar calls it once per delivery, within the subscription's
 * in-flight limit (events with the same key one at a time, in publish order). The sidecar has checked the delivery
 * first (the publisher is the verified peer that sent it, the topic matches the subscription, the policies let
 * that publisher publish it), so the app sees only events the mesh accepted. The metadata carries
 * `x-agentmesh-call-token`: calls and publishes the app makes with it on the outbound port continue the event's
 * trace, conversation and chain.
 */
export interface EventHandlerClient extends grpc.Client {
  /**
   * Handles one delivery. The answer acknowledges it: ACK (or an empty answer) when handled, RETRY to have it again
   * after `retry_after_ms` (the publisher's backoff when 0), DROP to give up at once (it goes to
   * `dead-letter.<topic>` with `reason`). A failed call (any error status, or no answer within the publisher's ack
   * timeout) is retried like RETRY; UNIMPLEMENTED tells the operator that the app does not serve EventHandler.
   */
  HandleEvent(argument: _agentmesh_v1_HandleEventRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  HandleEvent(argument: _agentmesh_v1_HandleEventRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  HandleEvent(argument: _agentmesh_v1_HandleEventRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  HandleEvent(argument: _agentmesh_v1_HandleEventRequest, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Handles one delivery. The answer acknowledges it: ACK (or an empty answer) when handled, RETRY to have it again
   * after `retry_after_ms` (the publisher's backoff when 0), DROP to give up at once (it goes to
   * `dead-letter.<topic>` with `reason`). A failed call (any error status, or no answer within the publisher's ack
   * timeout) is retried like RETRY; UNIMPLEMENTED tells the operator that the app does not serve EventHandler.
   */
  handleEvent(argument: _agentmesh_v1_HandleEventRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  handleEvent(argument: _agentmesh_v1_HandleEventRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  handleEvent(argument: _agentmesh_v1_HandleEventRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  handleEvent(argument: _agentmesh_v1_HandleEventRequest, callback: grpc.requestCallback<_agentmesh_v1_HandleEventResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Served by an app behind the sidecar (on the same plaintext socket as its `agentmesh.v1.Agent` and
 * `grpc.health.v1`) when the sidecar subscribes: the sidecar calls it once per delivery, within the subscription's
 * in-flight limit (events with the same key one at a time, in publish order). The sidecar has checked the delivery
 * first (the publisher is the verified peer that sent it, the topic matches the subscription, the policies let
 * that publisher publish it), so the app sees only events the mesh accepted. The metadata carries
 * `x-agentmesh-call-token`: calls and publishes the app makes with it on the outbound port continue the event's
 * trace, conversation and chain.
 */
export interface EventHandlerHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Handles one delivery. The answer acknowledges it: ACK (or an empty answer) when handled, RETRY to have it again
   * after `retry_after_ms` (the publisher's backoff when 0), DROP to give up at once (it goes to
   * `dead-letter.<topic>` with `reason`). A failed call (any error status, or no answer within the publisher's ack
   * timeout) is retried like RETRY; UNIMPLEMENTED tells the operator that the app does not serve EventHandler.
   */
  HandleEvent: grpc.handleUnaryCall<_agentmesh_v1_HandleEventRequest__Output, _agentmesh_v1_HandleEventResponse>;
  
}

export interface EventHandlerDefinition extends grpc.ServiceDefinition {
  HandleEvent: MethodDefinition<_agentmesh_v1_HandleEventRequest, _agentmesh_v1_HandleEventResponse, _agentmesh_v1_HandleEventRequest__Output, _agentmesh_v1_HandleEventResponse__Output>
}
