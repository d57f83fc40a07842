// Original file: proto/agentmesh/v1/control_plane.proto


/**
 * One query of a WatchScope: the fields of DiscoverRequest that select agents.
 */
export interface TargetScope {
  'type'?: (string);
  'capabilities'?: (string)[];
  'labelSelector'?: (string);
  'skill'?: (string);
  'skillTag'?: (string);
}

/**
 * One query of a WatchScope: the fields of DiscoverRequest that select agents.
 */
export interface TargetScope__Output {
  'type': (string);
  'capabilities': (string)[];
  'labelSelector': (string);
  'skill': (string);
  'skillTag': (string);
}
