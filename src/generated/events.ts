import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _agentmesh_v1_Ack, Ack__Output as _agentmesh_v1_Ack__Output } from './agentmesh/v1/Ack.js';
import type { AckBatch as _agentmesh_v1_AckBatch, AckBatch__Output as _agentmesh_v1_AckBatch__Output } from './agentmesh/v1/AckBatch.js';
import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from './agentmesh/v1/AgentRecord.js';
import type { AgentSpec as _agentmesh_v1_AgentSpec, AgentSpec__Output as _agentmesh_v1_AgentSpec__Output } from './agentmesh/v1/AgentSpec.js';
import type { CallContext as _agentmesh_v1_CallContext, CallContext__Output as _agentmesh_v1_CallContext__Output } from './agentmesh/v1/CallContext.js';
import type { DeadLetter as _agentmesh_v1_DeadLetter, DeadLetter__Output as _agentmesh_v1_DeadLetter__Output } from './agentmesh/v1/DeadLetter.js';
import type { Event as _agentmesh_v1_Event, Event__Output as _agentmesh_v1_Event__Output } from './agentmesh/v1/Event.js';
import type { EventDelivery as _agentmesh_v1_EventDelivery, EventDelivery__Output as _agentmesh_v1_EventDelivery__Output } from './agentmesh/v1/EventDelivery.js';
import type { EventDeliveryBatch as _agentmesh_v1_EventDeliveryBatch, EventDeliveryBatch__Output as _agentmesh_v1_EventDeliveryBatch__Output } from './agentmesh/v1/EventDeliveryBatch.js';
import type { EventHandlerClient as _agentmesh_v1_EventHandlerClient, EventHandlerDefinition as _agentmesh_v1_EventHandlerDefinition } from './agentmesh/v1/EventHandler.js';
import type { EventsClient as _agentmesh_v1_EventsClient, EventsDefinition as _agentmesh_v1_EventsDefinition } from './agentmesh/v1/Events.js';
import type { HandleEventRequest as _agentmesh_v1_HandleEventRequest, HandleEventRequest__Output as _agentmesh_v1_HandleEventRequest__Output } from './agentmesh/v1/HandleEventRequest.js';
import type { HandleEventResponse as _agentmesh_v1_HandleEventResponse, HandleEventResponse__Output as _agentmesh_v1_HandleEventResponse__Output } from './agentmesh/v1/HandleEventResponse.js';
import type { LoadReport as _agentmesh_v1_LoadReport, LoadReport__Output as _agentmesh_v1_LoadReport__Output } from './agentmesh/v1/LoadReport.js';
import type { PublishRequest as _agentmesh_v1_PublishRequest, PublishRequest__Output as _agentmesh_v1_PublishRequest__Output } from './agentmesh/v1/PublishRequest.js';
import type { PublishResponse as _agentmesh_v1_PublishResponse, PublishResponse__Output as _agentmesh_v1_PublishResponse__Output } from './agentmesh/v1/PublishResponse.js';
import type { Skill as _agentmesh_v1_Skill, Skill__Output as _agentmesh_v1_Skill__Output } from './agentmesh/v1/Skill.js';
import type { Subscription as _agentmesh_v1_Subscription, Subscription__Output as _agentmesh_v1_Subscription__Output } from './agentmesh/v1/Subscription.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  agentmesh: {
    v1: {
      Ack: MessageTypeDefinition<_agentmesh_v1_Ack, _agentmesh_v1_Ack__Output>
      AckBatch: MessageTypeDefinition<_agentmesh_v1_AckBatch, _agentmesh_v1_AckBatch__Output>
      AckOutcome: EnumTypeDefinition
      AgentRecord: MessageTypeDefinition<_agentmesh_v1_AgentRecord, _agentmesh_v1_AgentRecord__Output>
      AgentSpec: MessageTypeDefinition<_agentmesh_v1_AgentSpec, _agentmesh_v1_AgentSpec__Output>
      CallContext: MessageTypeDefinition<_agentmesh_v1_CallContext, _agentmesh_v1_CallContext__Output>
      DeadLetter: MessageTypeDefinition<_agentmesh_v1_DeadLetter, _agentmesh_v1_DeadLetter__Output>
      Event: MessageTypeDefinition<_agentmesh_v1_Event, _agentmesh_v1_Event__Output>
      EventDelivery: MessageTypeDefinition<_agentmesh_v1_EventDelivery, _agentmesh_v1_EventDelivery__Output>
      EventDeliveryBatch: MessageTypeDefinition<_agentmesh_v1_EventDeliveryBatch, _agentmesh_v1_EventDeliveryBatch__Output>
      /**
       * Served by an app behind the sidecar (on the same plaintext socket as its `agentmesh.v1.Agent` and
       * `grpc.health.v1`) when the sidecar subscribes: the sidecar calls it once per delivery, within the subscription's
       * in-flight limit (events with the same key one at a time, in publish order). The sidecar has checked the delivery
       * first (the publisher is the verified peer that sent it, the topic matches the subscription, the policies let
       * that publisher publish it), so the app sees only events the mesh accepted. The metadata carries
       * `x-agentmesh-call-token`: calls and publishes the app makes with it on the outbound port continue the event's
       * trace, conversation and chain.
       */
      EventHandler: SubtypeConstructor<typeof grpc.Client, _agentmesh_v1_EventHandlerClient> & { service: _agentmesh_v1_EventHandlerDefinition }
      Events: SubtypeConstructor<typeof grpc.Client, _agentmesh_v1_EventsClient> & { service: _agentmesh_v1_EventsDefinition }
      HandleEventRequest: MessageTypeDefinition<_agentmesh_v1_HandleEventRequest, _agentmesh_v1_HandleEventRequest__Output>
      HandleEventResponse: MessageTypeDefinition<_agentmesh_v1_HandleEventResponse, _agentmesh_v1_HandleEventResponse__Output>
      HealthStatus: EnumTypeDefinition
      LoadReport: MessageTypeDefinition<_agentmesh_v1_LoadReport, _agentmesh_v1_LoadReport__Output>
      PublishRequest: MessageTypeDefinition<_agentmesh_v1_PublishRequest, _agentmesh_v1_PublishRequest__Output>
      PublishResponse: MessageTypeDefinition<_agentmesh_v1_PublishResponse, _agentmesh_v1_PublishResponse__Output>
      Skill: MessageTypeDefinition<_agentmesh_v1_Skill, _agentmesh_v1_Skill__Output>
      Subscription: MessageTypeDefinition<_agentmesh_v1_Subscription, _agentmesh_v1_Subscription__Output>
    }
  }
}

