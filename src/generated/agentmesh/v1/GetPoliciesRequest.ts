// Original file: proto/agentmesh/v1/control_plane.proto


export interface GetPoliciesRequest {
}

export interface GetPoliciesRequest__Output {
}
