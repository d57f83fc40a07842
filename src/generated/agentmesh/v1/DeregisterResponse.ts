// Original file: proto/agentmesh/v1/control_plane.proto


export interface DeregisterResponse {
}

export interface DeregisterResponse__Output {
}
