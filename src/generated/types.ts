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
import type { LoadReport as _agentmesh_v1_LoadReport, LoadReport__Output as _agentmesh_v1_LoadReport__Output } from './agentmesh/v1/LoadReport.js';
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
      HealthStatus: EnumTypeDefinition
      LoadReport: MessageTypeDefinition<_agentmesh_v1_LoadReport, _agentmesh_v1_LoadReport__Output>
      Skill: MessageTypeDefinition<_agentmesh_v1_Skill, _agentmesh_v1_Skill__Output>
      Subscription: MessageTypeDefinition<_agentmesh_v1_Subscription, _agentmesh_v1_Subscription__Output>
    }
  }
}

