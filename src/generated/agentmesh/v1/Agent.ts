// Original file: proto/agentmesh/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AckBatch as _agentmesh_v1_AckBatch, AckBatch__Output as _agentmesh_v1_AckBatch__Output } from '../../agentmesh/v1/AckBatch.js';
import type { EventDeliveryBatch as _agentmesh_v1_EventDeliveryBatch, EventDeliveryBatch__Output as _agentmesh_v1_EventDeliveryBatch__Output } from '../../agentmesh/v1/EventDeliveryBatch.js';
import type { InvokeChunk as _agentmesh_v1_InvokeChunk, InvokeChunk__Output as _agentmesh_v1_InvokeChunk__Output } from '../../agentmesh/v1/InvokeChunk.js';
import type { InvokeRequest as _agentmesh_v1_InvokeRequest, InvokeRequest__Output as _agentmesh_v1_InvokeRequest__Output } from '../../agentmesh/v1/InvokeRequest.js';
import type { InvokeResponse as _agentmesh_v1_InvokeResponse, InvokeResponse__Output as _agentmesh_v1_InvokeResponse__Output } from '../../agentmesh/v1/InvokeResponse.js';

export interface AgentClient extends grpc.Client {
  /**
   * Pushes event deliveries to the agent's subscriptions; a publisher keeps one such stream per subscribing agent.
   * The sender streams batches of deliveries; the agent answers each delivery with an Ack once its handler
   * finishes, in any order. The agent refuses (ACK_OUTCOME_REFUSED, with the reason) a delivery for a subscription
   * it does not have, an event whose `publisher` is not the stream's verified peer, an event a publisher would not
   * accept (no id; an invalid topic: wildcards, empty segments, more than 16 segments of at most 64 characters; a
   * payload over the agent's limit, 1 MiB by default), a topic the subscription's pattern does not match, or one
   * the policies do not let that publisher publish. A refused delivery never reaches a handler; the rest of the
   * batch and the stream go on. Deliveries not acknowledged when the stream ends are redelivered by the publisher.
   */
  DeliverEvents(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentmesh_v1_EventDeliveryBatch, _agentmesh_v1_AckBatch__Output>;
  DeliverEvents(options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentmesh_v1_EventDeliveryBatch, _agentmesh_v1_AckBatch__Output>;
  /**
   * Pushes event deliveries to the agent's subscriptions; a publisher keeps one such stream per subscribing agent.
   * The sender streams batches of deliveries; the agent answers each delivery with an Ack once its handler
   * finishes, in any order. The agent refuses (ACK_OUTCOME_REFUSED, with the reason) a delivery for a subscription
   * it does not have, an event whose `publisher` is not the stream's verified peer, an event a publisher would not
   * accept (no id; an invalid topic: wildcards, empty segments, more than 16 segments of at most 64 characters; a
   * payload over the agent's limit, 1 MiB by default), a topic the subscription's pattern does not match, or one
   * the policies do not let that publisher publish. A refused delivery never reaches a handler; the rest of the
   * batch and the stream go on. Deliveries not acknowledged when the stream ends are redelivered by the publisher.
   */
  deliverEvents(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentmesh_v1_EventDeliveryBatch, _agentmesh_v1_AckBatch__Output>;
  deliverEvents(options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentmesh_v1_EventDeliveryBatch, _agentmesh_v1_AckBatch__Output>;
  
  /**
   * The generic request/response call: runs the handler registered for `method`.
   * Errors: UNIMPLEMENTED for an unknown method, INVALID_ARGUMENT from the handler for a payload it cannot use,
   * RESOURCE_EXHAUSTED when the agent is at capacity, FAILED_PRECONDITION when the call loop limit is reached.
   */
  Invoke(argument: _agentmesh_v1_InvokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _agentmesh_v1_InvokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _agentmesh_v1_InvokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _agentmesh_v1_InvokeRequest, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The generic request/response call: runs the handler registered for `method`.
   * Errors: UNIMPLEMENTED for an unknown method, INVALID_ARGUMENT from the handler for a payload it cannot use,
   * RESOURCE_EXHAUSTED when the agent is at capacity, FAILED_PRECONDITION when the call loop limit is reached.
   */
  invoke(argument: _agentmesh_v1_InvokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  invoke(argument: _agentmesh_v1_InvokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  invoke(argument: _agentmesh_v1_InvokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  invoke(argument: _agentmesh_v1_InvokeRequest, callback: grpc.requestCallback<_agentmesh_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Like Invoke, but the handler answers with a stream of chunks (e.g. tokens from a language model), each sent
   * as soon as it is produced.
   */
  InvokeStream(argument: _agentmesh_v1_InvokeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_InvokeChunk__Output>;
  InvokeStream(argument: _agentmesh_v1_InvokeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_InvokeChunk__Output>;
  /**
   * Like Invoke, but the handler answers with a stream of chunks (e.g. tokens from a language model), each sent
   * as soon as it is produced.
   */
  invokeStream(argument: _agentmesh_v1_InvokeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_InvokeChunk__Output>;
  invokeStream(argument: _agentmesh_v1_InvokeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_agentmesh_v1_InvokeChunk__Output>;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Pushes event deliveries to the agent's subscriptions; a publisher keeps one such stream per subscribing agent.
   * The sender streams batches of deliveries; the agent answers each delivery with an Ack once its handler
   * finishes, in any order. The agent refuses (ACK_OUTCOME_REFUSED, with the reason) a delivery for a subscription
   * it does not have, an event whose `publisher` is not the stream's verified peer, an event a publisher would not
   * accept (no id; an invalid topic: wildcards, empty segments, more than 16 segments of at most 64 characters; a
   * payload over the agent's limit, 1 MiB by default), a topic the subscription's pattern does not match, or one
   * the policies do not let that publisher publish. A refused delivery never reaches a handler; the rest of the
   * batch and the stream go on. Deliveries not acknowledged when the stream ends are redelivered by the publisher.
   */
  DeliverEvents: grpc.handleBidiStreamingCall<_agentmesh_v1_EventDeliveryBatch__Output, _agentmesh_v1_AckBatch>;
  
  /**
   * The generic request/response call: runs the handler registered for `method`.
   * Errors: UNIMPLEMENTED for an unknown method, INVALID_ARGUMENT from the handler for a payload it cannot use,
   * RESOURCE_EXHAUSTED when the agent is at capacity, FAILED_PRECONDITION when the call loop limit is reached.
   */
  Invoke: grpc.handleUnaryCall<_agentmesh_v1_InvokeRequest__Output, _agentmesh_v1_InvokeResponse>;
  
  /**
   * Like Invoke, but the handler answers with a stream of chunks (e.g. tokens from a language model), each sent
   * as soon as it is produced.
   */
  InvokeStream: grpc.handleServerStreamingCall<_agentmesh_v1_InvokeRequest__Output, _agentmesh_v1_InvokeChunk>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  DeliverEvents: MethodDefinition<_agentmesh_v1_EventDeliveryBatch, _agentmesh_v1_AckBatch, _agentmesh_v1_EventDeliveryBatch__Output, _agentmesh_v1_AckBatch__Output>
  Invoke: MethodDefinition<_agentmesh_v1_InvokeRequest, _agentmesh_v1_InvokeResponse, _agentmesh_v1_InvokeRequest__Output, _agentmesh_v1_InvokeResponse__Output>
  InvokeStream: MethodDefinition<_agentmesh_v1_InvokeRequest, _agentmesh_v1_InvokeChunk, _agentmesh_v1_InvokeRequest__Output, _agentmesh_v1_InvokeChunk__Output>
}
