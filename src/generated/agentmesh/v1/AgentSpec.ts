// Original file: proto/agentmesh/v1/types.proto

import type { Subscription as _agentmesh_v1_Subscription, Subscription__Output as _agentmesh_v1_Subscription__Output } from '../../agentmesh/v1/Subscription.js';
import type { Skill as _agentmesh_v1_Skill, Skill__Output as _agentmesh_v1_Skill__Output } from '../../agentmesh/v1/Skill.js';

/**
 * What an agent declares about itself when it registers.
 */
export interface AgentSpec {
  /**
   * The kind of agent, used to route calls: e.g. "summarizer". Lowercase letters, digits, '-', '_' and '.';
   * at most 63 characters.
   */
  'type'?: (string);
  /**
   * The agent instance's name, unique in the mesh: e.g. "summarizer-1". It must equal the last path segment of
   * the caller's SPIFFE ID (`spiffe://<trust-domain>/agent/<name>`): an agent registers only as itself.
   */
  'name'?: (string);
  /**
   * What the agent can do, e.g. ["summarize", "translate:fr"]. Discovery can require all of a set.
   */
  'capabilities'?: (string)[];
  /**
   * Free-form key/value labels matched by label selectors: e.g. {"zone": "eu-1", "model": "large"}.
   * Keys and values follow Kubernetes label syntax.
   */
  'labels'?: ({[key: string]: string});
  /**
   * Where the agent's gRPC server listens, as "host:port" (e.g. "127.0.0.1:7501").
   */
  'endpoint'?: (string);
  /**
   * Relative share of traffic for weighted balancing; 0 means the default weight of 100.
   */
  'weight'?: (number);
  /**
   * The most calls the instance runs at once; 0 means no declared limit.
   */
  'maxConcurrency'?: (number);
  /**
   * A short human-readable description of what the agent does (at most 1024 characters).
   */
  'description'?: (string);
  /**
   * The agent's event subscriptions (at most 64). Publishers find them in the registry and deliver to the agent
   * directly (Agent.DeliverEvents); subscribing is authorized by the control plane's policies at registration.
   */
  'subscriptions'?: (_agentmesh_v1_Subscription)[];
  /**
   * What the agent offers as tools (its agent card's skills; at most 64, unique ids). Discovery can search them
   * by id or tag, and `callTool` routes to a healthy agent that has the skill.
   */
  'skills'?: (_agentmesh_v1_Skill)[];
  /**
   * The agent-mesh version the agent runs (e.g. "0.1.0"), set by the runtime; informational, for
   * `agent-mesh version`. At most 64 characters.
   */
  'meshVersion'?: (string);
}

/**
 * What an agent declares about itself when it registers.
 */
export interface AgentSpec__Output {
  /**
   * The kind of agent, used to route calls: e.g. "summarizer". Lowercase letters, digits, '-', '_' and '.';
   * at most 63 characters.
   */
  'type': (string);
  /**
   * The agent instance's name, unique in the mesh: e.g. "summarizer-1". It must equal the last path segment of
   * the caller's SPIFFE ID (`spiffe://<trust-domain>/agent/<name>`): an agent registers only as itself.
   */
  'name': (string);
  /**
   * What the agent can do, e.g. ["summarize", "translate:fr"]. Discovery can require all of a set.
   */
  'capabilities': (string)[];
  /**
   * Free-form key/value labels matched by label selectors: e.g. {"zone": "eu-1", "model": "large"}.
   * Keys and values follow Kubernetes label syntax.
   */
  'labels': ({[key: string]: string});
  /**
   * Where the agent's gRPC server listens, as "host:port" (e.g. "127.0.0.1:7501").
   */
  'endpoint': (string);
  /**
   * Relative share of traffic for weighted balancing; 0 means the default weight of 100.
   */
  'weight': (number);
  /**
   * The most calls the instance runs at once; 0 means no declared limit.
   */
  'maxConcurrency': (number);
  /**
   * A short human-readable description of what the agent does (at most 1024 characters).
   */
  'description': (string);
  /**
   * The agent's event subscriptions (at most 64). Publishers find them in the registry and deliver to the agent
   * directly (Agent.DeliverEvents); subscribing is authorized by the control plane's policies at registration.
   */
  'subscriptions': (_agentmesh_v1_Subscription__Output)[];
  /**
   * What the agent offers as tools (its agent card's skills; at most 64, unique ids). Discovery can search them
   * by id or tag, and `callTool` routes to a healthy agent that has the skill.
   */
  'skills': (_agentmesh_v1_Skill__Output)[];
  /**
   * The agent-mesh version the agent runs (e.g. "0.1.0"), set by the runtime; informational, for
   * `agent-mesh version`. At most 64 characters.
   */
  'meshVersion': (string);
}
