// Original file: proto/agentmesh/v1/events.proto

import type { Event as _agentmesh_v1_Event, Event__Output as _agentmesh_v1_Event__Output } from '../../agentmesh/v1/Event.js';

export interface HandleEventRequest {
  /**
   * The event as its publisher sent it; `publisher` is the publishing agent's verified SPIFFE ID.
   */
  'event'?: (_agentmesh_v1_Event | null);
  /**
   * 1 for the first delivery, counting up on each redelivery.
   */
  'attempt'?: (number);
  /**
   * The subscription it is delivered for: its pattern and queue group ("" for none).
   */
  'pattern'?: (string);
  'group'?: (string);
}

export interface HandleEventRequest__Output {
  /**
   * The event as its publisher sent it; `publisher` is the publishing agent's verified SPIFFE ID.
   */
  'event': (_agentmesh_v1_Event__Output | null);
  /**
   * 1 for the first delivery, counting up on each redelivery.
   */
  'attempt': (number);
  /**
   * The subscription it is delivered for: its pattern and queue group ("" for none).
   */
  'pattern': (string);
  'group': (string);
}
