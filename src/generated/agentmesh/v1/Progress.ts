// Original file: proto/agentmesh/v1/control_plane.proto


export interface Progress {
}

export interface Progress__Output {
}
