// Original file: proto/agentmesh/v1/control_plane.proto

import type { TargetScope as _agentmesh_v1_TargetScope, TargetScope__Output as _agentmesh_v1_TargetScope__Output } from '../../agentmesh/v1/TargetScope.js';

/**
 * What one watcher needs: the agents it may call, the agents that subscribe to what it publishes, and any agents
 * it names (itself, its callers). A watcher with a scope receives the agents that match any of its entries, every
 * change to them (including the one that takes an agent out of the scope), and the policies.
 */
export interface WatchScope {
  /**
   * Agents matching any of these queries, whatever their health (at most 256).
   */
  'targets'?: (_agentmesh_v1_TargetScope)[];
  /**
   * These agents (at most 4,096 ids).
   */
  'agentIds'?: (string)[];
  /**
   * Agents with a subscription whose pattern matches any of these topics (at most 256).
   */
  'topics'?: (string)[];
}

/**
 * What one watcher needs: the agents it may call, the agents that subscribe to what it publishes, and any agents
 * it names (itself, its callers). A watcher with a scope receives the agents that match any of its entries, every
 * change to them (including the one that takes an agent out of the scope), and the policies.
 */
export interface WatchScope__Output {
  /**
   * Agents matching any of these queries, whatever their health (at most 256).
   */
  'targets': (_agentmesh_v1_TargetScope__Output)[];
  /**
   * These agents (at most 4,096 ids).
   */
  'agentIds': (string)[];
  /**
   * Agents with a subscription whose pattern matches any of these topics (at most 256).
   */
  'topics': (string)[];
}
