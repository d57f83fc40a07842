/**
 * `agent-mesh/sidecar`: the mesh for agents written in other languages. A sidecar joins the mesh on an app's
 * behalf: it serves the app's methods to the mesh (forwarding each call over a private Unix socket or loopback)
 * and offers the app an outbound socket through which its calls reach other agents over mTLS.
 */

export { OUTBOUND_SOCKET, startSidecar } from './sidecar.js';
export type { RunningSidecar, SidecarOptions, SidecarSubscription } from './sidecar.js';
export { SIDECAR_METADATA } from './app-connection.js';
export { defaultSocketDir } from './private-socket.js';
