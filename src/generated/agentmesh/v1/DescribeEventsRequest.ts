// Original file: proto/agentmesh/v1/control_plane.proto


export interface DescribeEventsRequest {
}

export interface DescribeEventsRequest__Output {
}
