// Original file: proto/agentmesh/v1/control_plane.proto


export interface DeregisterRequest {
  /**
   * The id from RegisterResponse.
   */
  'agentId'?: (string);
}

export interface DeregisterRequest__Output {
  /**
   * The id from RegisterResponse.
   */
  'agentId': (string);
}
