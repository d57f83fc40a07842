import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _agentmesh_v1_Ack, Ack__Output as _agentmesh_v1_Ack__Output } from './agentmesh/v1/Ack.js';
import type { AckBatch as _agentmesh_v1_AckBatch, AckBatch__Output as _agentmesh_v1_AckBatch__Output } from './agentmesh/v1/AckBatch.js';
import type { AgentChange as _agentmesh_v1_AgentChange, AgentChange__Output as _agentmesh_v1_AgentChange__Output } from './agentmesh/v1/AgentChange.js';
import type { AgentLoad as _agentmesh_v1_AgentLoad, AgentLoad__Output as _agentmesh_v1_AgentLoad__Output } from './agentmesh/v1/AgentLoad.js';
import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from './agentmesh/v1/AgentRecord.js';
import type { AgentSpec as _agentmesh_v1_AgentSpec, AgentSpec__Output as _agentmesh_v1_AgentSpec__Output } from './agentmesh/v1/AgentSpec.js';
import type { CallContext as _agentmesh_v1_CallContext, CallContext__Output as _agentmesh_v1_CallContext__Output } from './agentmesh/v1/CallContext.js';
import type { CallReport as _agentmesh_v1_CallReport, CallReport__Output as _agentmesh_v1_CallReport__Output } from './agentmesh/v1/CallReport.js';
import type { ConsumerStats as _agentmesh_v1_ConsumerStats, ConsumerStats__Output as _agentmesh_v1_ConsumerStats__Output } from './agentmesh/v1/ConsumerStats.js';
import type { ControlPlaneClient as _agentmesh_v1_ControlPlaneClient, ControlPlaneDefinition as _agentmesh_v1_ControlPlaneDefinition } from './agentmesh/v1/ControlPlane.js';
import type { ControlPlaneInfo as _agentmesh_v1_ControlPlaneInfo, ControlPlaneInfo__Output as _agentmesh_v1_ControlPlaneInfo__Output } from './agentmesh/v1/ControlPlaneInfo.js';
import type { DeadLetter as _agentmesh_v1_DeadLetter, DeadLetter__Output as _agentmesh_v1_DeadLetter__Output } from './agentmesh/v1/DeadLetter.js';
import type { DeregisterRequest as _agentmesh_v1_DeregisterRequest, DeregisterRequest__Output as _agentmesh_v1_DeregisterRequest__Output } from './agentmesh/v1/DeregisterRequest.js';
import type { DeregisterResponse as _agentmesh_v1_DeregisterResponse, DeregisterResponse__Output as _agentmesh_v1_DeregisterResponse__Output } from './agentmesh/v1/DeregisterResponse.js';
import type { DescribeEventsRequest as _agentmesh_v1_DescribeEventsRequest, DescribeEventsRequest__Output as _agentmesh_v1_DescribeEventsRequest__Output } from './agentmesh/v1/DescribeEventsRequest.js';
import type { DescribeEventsResponse as _agentmesh_v1_DescribeEventsResponse, DescribeEventsResponse__Output as _agentmesh_v1_DescribeEventsResponse__Output } from './agentmesh/v1/DescribeEventsResponse.js';
import type { DiscoverRequest as _agentmesh_v1_DiscoverRequest, DiscoverRequest__Output as _agentmesh_v1_DiscoverRequest__Output } from './agentmesh/v1/DiscoverRequest.js';
import type { DiscoverResponse as _agentmesh_v1_DiscoverResponse, DiscoverResponse__Output as _agentmesh_v1_DiscoverResponse__Output } from './agentmesh/v1/DiscoverResponse.js';
import type { Event as _agentmesh_v1_Event, Event__Output as _agentmesh_v1_Event__Output } from './agentmesh/v1/Event.js';
import type { EventConsumer as _agentmesh_v1_EventConsumer, EventConsumer__Output as _agentmesh_v1_EventConsumer__Output } from './agentmesh/v1/EventConsumer.js';
import type { EventDelivery as _agentmesh_v1_EventDelivery, EventDelivery__Output as _agentmesh_v1_EventDelivery__Output } from './agentmesh/v1/EventDelivery.js';
import type { EventDeliveryBatch as _agentmesh_v1_EventDeliveryBatch, EventDeliveryBatch__Output as _agentmesh_v1_EventDeliveryBatch__Output } from './agentmesh/v1/EventDeliveryBatch.js';
import type { GetAgentRequest as _agentmesh_v1_GetAgentRequest, GetAgentRequest__Output as _agentmesh_v1_GetAgentRequest__Output } from './agentmesh/v1/GetAgentRequest.js';
import type { GetEventStoreRequest as _agentmesh_v1_GetEventStoreRequest, GetEventStoreRequest__Output as _agentmesh_v1_GetEventStoreRequest__Output } from './agentmesh/v1/GetEventStoreRequest.js';
import type { GetEventStoreResponse as _agentmesh_v1_GetEventStoreResponse, GetEventStoreResponse__Output as _agentmesh_v1_GetEventStoreResponse__Output } from './agentmesh/v1/GetEventStoreResponse.js';
import type { GetInfoRequest as _agentmesh_v1_GetInfoRequest, GetInfoRequest__Output as _agentmesh_v1_GetInfoRequest__Output } from './agentmesh/v1/GetInfoRequest.js';
import type { GetPoliciesRequest as _agentmesh_v1_GetPoliciesRequest, GetPoliciesRequest__Output as _agentmesh_v1_GetPoliciesRequest__Output } from './agentmesh/v1/GetPoliciesRequest.js';
import type { Grant as _agentmesh_v1_Grant, Grant__Output as _agentmesh_v1_Grant__Output } from './agentmesh/v1/Grant.js';
import type { HeartbeatRequest as _agentmesh_v1_HeartbeatRequest, HeartbeatRequest__Output as _agentmesh_v1_HeartbeatRequest__Output } from './agentmesh/v1/HeartbeatRequest.js';
import type { HeartbeatResponse as _agentmesh_v1_HeartbeatResponse, HeartbeatResponse__Output as _agentmesh_v1_HeartbeatResponse__Output } from './agentmesh/v1/HeartbeatResponse.js';
import type { ListDeadLettersRequest as _agentmesh_v1_ListDeadLettersRequest, ListDeadLettersRequest__Output as _agentmesh_v1_ListDeadLettersRequest__Output } from './agentmesh/v1/ListDeadLettersRequest.js';
import type { ListDeadLettersResponse as _agentmesh_v1_ListDeadLettersResponse, ListDeadLettersResponse__Output as _agentmesh_v1_ListDeadLettersResponse__Output } from './agentmesh/v1/ListDeadLettersResponse.js';
import type { LoadReport as _agentmesh_v1_LoadReport, LoadReport__Output as _agentmesh_v1_LoadReport__Output } from './agentmesh/v1/LoadReport.js';
import type { PolicyRule as _agentmesh_v1_PolicyRule, PolicyRule__Output as _agentmesh_v1_PolicyRule__Output } from './agentmesh/v1/PolicyRule.js';
import type { PolicySet as _agentmesh_v1_PolicySet, PolicySet__Output as _agentmesh_v1_PolicySet__Output } from './agentmesh/v1/PolicySet.js';
import type { Progress as _agentmesh_v1_Progress, Progress__Output as _agentmesh_v1_Progress__Output } from './agentmesh/v1/Progress.js';
import type { RateLimit as _agentmesh_v1_RateLimit, RateLimit__Output as _agentmesh_v1_RateLimit__Output } from './agentmesh/v1/RateLimit.js';
import type { RegisterRequest as _agentmesh_v1_RegisterRequest, RegisterRequest__Output as _agentmesh_v1_RegisterRequest__Output } from './agentmesh/v1/RegisterRequest.js';
import type { RegisterResponse as _agentmesh_v1_RegisterResponse, RegisterResponse__Output as _agentmesh_v1_RegisterResponse__Output } from './agentmesh/v1/RegisterResponse.js';
import type { ReplayDeadLetterRequest as _agentmesh_v1_ReplayDeadLetterRequest, ReplayDeadLetterRequest__Output as _agentmesh_v1_ReplayDeadLetterRequest__Output } from './agentmesh/v1/ReplayDeadLetterRequest.js';
import type { ReplayDeadLetterResponse as _agentmesh_v1_ReplayDeadLetterResponse, ReplayDeadLetterResponse__Output as _agentmesh_v1_ReplayDeadLetterResponse__Output } from './agentmesh/v1/ReplayDeadLetterResponse.js';
import type { SignCertificateRequest as _agentmesh_v1_SignCertificateRequest, SignCertificateRequest__Output as _agentmesh_v1_SignCertificateRequest__Output } from './agentmesh/v1/SignCertificateRequest.js';
import type { SignCertificateResponse as _agentmesh_v1_SignCertificateResponse, SignCertificateResponse__Output as _agentmesh_v1_SignCertificateResponse__Output } from './agentmesh/v1/SignCertificateResponse.js';
import type { Skill as _agentmesh_v1_Skill, Skill__Output as _agentmesh_v1_Skill__Output } from './agentmesh/v1/Skill.js';
import type { Snapshot as _agentmesh_v1_Snapshot, Snapshot__Output as _agentmesh_v1_Snapshot__Output } from './agentmesh/v1/Snapshot.js';
import type { StoredEvent as _agentmesh_v1_StoredEvent, StoredEvent__Output as _agentmesh_v1_StoredEvent__Output } from './agentmesh/v1/StoredEvent.js';
import type { Subscription as _agentmesh_v1_Subscription, Subscription__Output as _agentmesh_v1_Subscription__Output } from './agentmesh/v1/Subscription.js';
import type { SubscriptionStart as _agentmesh_v1_SubscriptionStart, SubscriptionStart__Output as _agentmesh_v1_SubscriptionStart__Output } from './agentmesh/v1/SubscriptionStart.js';
import type { TargetScope as _agentmesh_v1_TargetScope, TargetScope__Output as _agentmesh_v1_TargetScope__Output } from './agentmesh/v1/TargetScope.js';
import type { TopicStats as _agentmesh_v1_TopicStats, TopicStats__Output as _agentmesh_v1_TopicStats__Output } from './agentmesh/v1/TopicStats.js';
import type { WatchEvent as _agentmesh_v1_WatchEvent, WatchEvent__Output as _agentmesh_v1_WatchEvent__Output } from './agentmesh/v1/WatchEvent.js';
import type { WatchRequest as _agentmesh_v1_WatchRequest, WatchRequest__Output as _agentmesh_v1_WatchRequest__Output } from './agentmesh/v1/WatchRequest.js';
import type { WatchScope as _agentmesh_v1_WatchScope, WatchScope__Output as _agentmesh_v1_WatchScope__Output } from './agentmesh/v1/WatchScope.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  agentmesh: {
    v1: {
      Ack: MessageTypeDefinition<_agentmesh_v1_Ack, _agentmesh_v1_Ack__Output>
      AckBatch: MessageTypeDefinition<_agentmesh_v1_AckBatch, _agentmesh_v1_AckBatch__Output>
      AckOutcome: EnumTypeDefinition
      AgentChange: MessageTypeDefinition<_agentmesh_v1_AgentChange, _agentmesh_v1_AgentChange__Output>
      AgentLoad: MessageTypeDefinition<_agentmesh_v1_AgentLoad, _agentmesh_v1_AgentLoad__Output>
      AgentRecord: MessageTypeDefinition<_agentmesh_v1_AgentRecord, _agentmesh_v1_AgentRecord__Output>
      AgentSpec: MessageTypeDefinition<_agentmesh_v1_AgentSpec, _agentmesh_v1_AgentSpec__Output>
      CallContext: MessageTypeDefinition<_agentmesh_v1_CallContext, _agentmesh_v1_CallContext__Output>
      CallReport: MessageTypeDefinition<_agentmesh_v1_CallReport, _agentmesh_v1_CallReport__Output>
      ConsumerStats: MessageTypeDefinition<_agentmesh_v1_ConsumerStats, _agentmesh_v1_ConsumerStats__Output>
      ControlPlane: SubtypeConstructor<typeof grpc.Client, _agentmesh_v1_ControlPlaneClient> & { service: _agentmesh_v1_ControlPlaneDefinition }
      ControlPlaneInfo: MessageTypeDefinition<_agentmesh_v1_ControlPlaneInfo, _agentmesh_v1_ControlPlaneInfo__Output>
      DeadLetter: MessageTypeDefinition<_agentmesh_v1_DeadLetter, _agentmesh_v1_DeadLetter__Output>
      DeregisterRequest: MessageTypeDefinition<_agentmesh_v1_DeregisterRequest, _agentmesh_v1_DeregisterRequest__Output>
      DeregisterResponse: MessageTypeDefinition<_agentmesh_v1_DeregisterResponse, _agentmesh_v1_DeregisterResponse__Output>
      DescribeEventsRequest: MessageTypeDefinition<_agentmesh_v1_DescribeEventsRequest, _agentmesh_v1_DescribeEventsRequest__Output>
      DescribeEventsResponse: MessageTypeDefinition<_agentmesh_v1_DescribeEventsResponse, _agentmesh_v1_DescribeEventsResponse__Output>
      DiscoverRequest: MessageTypeDefinition<_agentmesh_v1_DiscoverRequest, _agentmesh_v1_DiscoverRequest__Output>
      DiscoverResponse: MessageTypeDefinition<_agentmesh_v1_DiscoverResponse, _agentmesh_v1_DiscoverResponse__Output>
      Event: MessageTypeDefinition<_agentmesh_v1_Event, _agentmesh_v1_Event__Output>
      EventConsumer: MessageTypeDefinition<_agentmesh_v1_EventConsumer, _agentmesh_v1_EventConsumer__Output>
      EventDelivery: MessageTypeDefinition<_agentmesh_v1_EventDelivery, _agentmesh_v1_EventDelivery__Output>
      EventDeliveryBatch: MessageTypeDefinition<_agentmesh_v1_EventDeliveryBatch, _agentmesh_v1_EventDeliveryBatch__Output>
      EventStoreMode: EnumTypeDefinition
      GetAgentRequest: MessageTypeDefinition<_agentmesh_v1_GetAgentRequest, _agentmesh_v1_GetAgentRequest__Output>
      GetEventStoreRequest: MessageTypeDefinition<_agentmesh_v1_GetEventStoreRequest, _agentmesh_v1_GetEventStoreRequest__Output>
      GetEventStoreResponse: MessageTypeDefinition<_agentmesh_v1_GetEventStoreResponse, _agentmesh_v1_GetEventStoreResponse__Output>
      GetInfoRequest: MessageTypeDefinition<_agentmesh_v1_GetInfoRequest, _agentmesh_v1_GetInfoRequest__Output>
      GetPoliciesRequest: MessageTypeDefinition<_agentmesh_v1_GetPoliciesRequest, _agentmesh_v1_GetPoliciesRequest__Output>
      Grant: MessageTypeDefinition<_agentmesh_v1_Grant, _agentmesh_v1_Grant__Output>
      HealthStatus: EnumTypeDefinition
      HeartbeatRequest: MessageTypeDefinition<_agentmesh_v1_HeartbeatRequest, _agentmesh_v1_HeartbeatRequest__Output>
      HeartbeatResponse: MessageTypeDefinition<_agentmesh_v1_HeartbeatResponse, _agentmesh_v1_HeartbeatResponse__Output>
      ListDeadLettersRequest: MessageTypeDefinition<_agentmesh_v1_ListDeadLettersRequest, _agentmesh_v1_ListDeadLettersRequest__Output>
      ListDeadLettersResponse: MessageTypeDefinition<_agentmesh_v1_ListDeadLettersResponse, _agentmesh_v1_ListDeadLettersResponse__Output>
      LoadReport: MessageTypeDefinition<_agentmesh_v1_LoadReport, _agentmesh_v1_LoadReport__Output>
      PolicyAction: EnumTypeDefinition
      PolicyEffect: EnumTypeDefinition
      PolicyRule: MessageTypeDefinition<_agentmesh_v1_PolicyRule, _agentmesh_v1_PolicyRule__Output>
      PolicySet: MessageTypeDefinition<_agentmesh_v1_PolicySet, _agentmesh_v1_PolicySet__Output>
      Progress: MessageTypeDefinition<_agentmesh_v1_Progress, _agentmesh_v1_Progress__Output>
      RateLimit: MessageTypeDefinition<_agentmesh_v1_RateLimit, _agentmesh_v1_RateLimit__Output>
      RegisterRequest: MessageTypeDefinition<_agentmesh_v1_RegisterRequest, _agentmesh_v1_RegisterRequest__Output>
      RegisterResponse: MessageTypeDefinition<_agentmesh_v1_RegisterResponse, _agentmesh_v1_RegisterResponse__Output>
      ReplayDeadLetterRequest: MessageTypeDefinition<_agentmesh_v1_ReplayDeadLetterRequest, _agentmesh_v1_ReplayDeadLetterRequest__Output>
      ReplayDeadLetterResponse: MessageTypeDefinition<_agentmesh_v1_ReplayDeadLetterResponse, _agentmesh_v1_ReplayDeadLetterResponse__Output>
      SignCertificateRequest: MessageTypeDefinition<_agentmesh_v1_SignCertificateRequest, _agentmesh_v1_SignCertificateRequest__Output>
      SignCertificateResponse: MessageTypeDefinition<_agentmesh_v1_SignCertificateResponse, _agentmesh_v1_SignCertificateResponse__Output>
      Skill: MessageTypeDefinition<_agentmesh_v1_Skill, _agentmesh_v1_Skill__Output>
      Snapshot: MessageTypeDefinition<_agentmesh_v1_Snapshot, _agentmesh_v1_Snapshot__Output>
      StoredEvent: MessageTypeDefinition<_agentmesh_v1_StoredEvent, _agentmesh_v1_StoredEvent__Output>
      Subscription: MessageTypeDefinition<_agentmesh_v1_Subscription, _agentmesh_v1_Subscription__Output>
      SubscriptionStart: MessageTypeDefinition<_agentmesh_v1_SubscriptionStart, _agentmesh_v1_SubscriptionStart__Output>
      TargetScope: MessageTypeDefinition<_agentmesh_v1_TargetScope, _agentmesh_v1_TargetScope__Output>
      TopicStats: MessageTypeDefinition<_agentmesh_v1_TopicStats, _agentmesh_v1_TopicStats__Output>
      WatchEvent: MessageTypeDefinition<_agentmesh_v1_WatchEvent, _agentmesh_v1_WatchEvent__Output>
      WatchRequest: MessageTypeDefinition<_agentmesh_v1_WatchRequest, _agentmesh_v1_WatchRequest__Output>
      WatchScope: MessageTypeDefinition<_agentmesh_v1_WatchScope, _agentmesh_v1_WatchScope__Output>
    }
  }
}

