// Original file: proto/agentmesh/v1/control_plane.proto


export interface GetInfoRequest {
}

export interface GetInfoRequest__Output {
}
