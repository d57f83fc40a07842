#!/usr/bin/python3
"""A Python agent that joins the mesh directly, without a sidecar: mTLS with its own certificate from certs/.

It serves agentmesh.v1.Agent and grpc.health.v1 over mTLS (client certificates required, checked against the trust
bundle), registers itself with the control plane, heartbeats, and deregisters on Ctrl-C or SIGTERM. Method:
`reverse` (the text reversed, with the verified caller).

    npm run ca -- issue py-direct-1 --type reverser
    /usr/bin/python3 examples/python/direct_agent.py --name py-direct-1 --type reverser

What grpcio (1.51, Debian bookworm) can and cannot check, honestly:

- Callers: grpc core verifies the client certificate's chain against the trust bundle and exposes the SPIFFE ID of
  a certificate with exactly one spiffe:// URI SAN as the auth context's `peer_spiffe_id`. This agent accepts only
  IDs of its own trust domain. It does not enforce the control plane's policies (it does not follow the watch);
  the TypeScript runtime and the sidecar do.
- Verifying the control plane: grpcio has no hook for a custom server check, and its hostname check compares the
  target name with the certificate's DNS and IP SANs only (a URI SAN never matches; `ssl_target_name_override`
  only changes the name compared). So the control plane's certificate needs a DNS or IP SAN for the address used:
  the control plane adds the host it listens on itself (127.0.0.1 for `npm start`, also after a renewal); for
  another address, issue it with `ca issue control-plane --ip <address> --force` and restart it. That check alone
  would accept any certificate of our CA carrying that address. Before connecting, this agent therefore also opens one TLS connection with Python's ssl module and
  requires the server's certificate to carry exactly the URI SAN spiffe://<trust-domain>/control-plane. That is a
  check of the server at that address at start, not of every gRPC connection: a weaker guarantee than the
  TypeScript clients' per-connection SPIFFE check. Certificate renewal is not implemented here: issue a
  certificate with a lifetime that covers the run, or use the sidecar, which renews.
"""

import argparse
import os
import signal
import socket
import ssl
import sys
import threading
from concurrent import futures

import grpc

import mesh_stubs

stubs = mesh_stubs.load()
agent_pb2, agent_grpc = stubs.agent, stubs.agent_grpc
cp_pb2, cp_grpc = stubs.control_plane, stubs.control_plane_grpc
types_pb2 = stubs.types
health_pb2, health_grpc = stubs.health, stubs.health_grpc


def read(path, what):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        sys.exit(f"direct_agent.py: cannot read the {what} at {path}: {error.strerror} (issue it with agent-mesh ca)")


def peer_spiffe_id(context):
    """The caller's SPIFFE ID, verified by grpc core from its client certificate (None without one)."""
    values = context.auth_context().get("peer_spiffe_id") or []
    return values[0].decode() if len(values) == 1 else None


class Reverser(agent_grpc.AgentServicer):
    def __init__(self, trust_domain):
        self.prefix = f"spiffe://{trust_domain}/"

    def caller(self, context):
        caller = peer_spiffe_id(context)
        if caller is None or not caller.startswith(self.prefix):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"callers must prove an identity of {self.prefix}")
        return caller

    def Invoke(self, request, context):
        caller = self.caller(context)
        if request.method != "reverse":
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f'unknown method "{request.method}"; this agent serves reverse')
        text = request.payload.decode("utf-8", "replace")
        return agent_pb2.InvokeResponse(payload=f"{text[::-1]} (for {caller})".encode(), content_type="text/plain")

    def InvokeStream(self, request, context):
        self.caller(context)
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this agent has no streamed methods")


class Health(health_grpc.HealthServicer):
    def __init__(self):
        self.serving = True

    def Check(self, request, context):
        status = health_pb2.HealthCheckResponse.SERVING if self.serving else health_pb2.HealthCheckResponse.NOT_SERVING
        return health_pb2.HealthCheckResponse(status=status)


def check_control_plane_identity(address, bundle_path, cert_path, key_path, expected):
    """One TLS handshake with the control plane: its certificate must chain to the bundle and be `expected`."""
    host, _, port = address.rpartition(":")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # replaced by the SPIFFE ID check below, as in the TypeScript clients
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(bundle_path)
    context.load_cert_chain(cert_path, key_path)
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                sans = tls.getpeercert().get("subjectAltName", ())
    except (OSError, ssl.SSLError) as error:
        sys.exit(f"direct_agent.py: cannot reach the control plane at {address} over mTLS: {error}")
    uris = [value for kind, value in sans if kind == "URI"]
    if uris != [expected]:
        sys.exit(f"direct_agent.py: the server at {address} is {uris or 'no SPIFFE identity'}, not {expected}")


def main():
    parser = argparse.ArgumentParser(description="A Python agent joining the mesh directly over mTLS.")
    parser.add_argument("--certs", default=os.environ.get("AGENT_MESH_CERTS", "certs"))
    parser.add_argument("--name", default=os.environ.get("AGENT_MESH_NAME"), required="AGENT_MESH_NAME" not in os.environ)
    parser.add_argument("--type", default="reverser")
    parser.add_argument("--control-plane", default=os.environ.get("AGENT_MESH_CONTROL_PLANE", "127.0.0.1:7400"))
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--trust-domain", default="agentmesh.local")
    parser.add_argument("--server-name", help="the control plane's DNS or IP SAN, when not the host of its address")
    parser.add_argument("--lease-ttl", type=float, default=15.0, help="seconds; heartbeats go at a third of it")
    args = parser.parse_args()

    bundle_path = os.path.join(args.certs, "bundle.crt")
    if not os.path.exists(bundle_path):
        bundle_path = os.path.join(args.certs, "ca.crt")
    cert_path = os.path.join(args.certs, f"{args.name}.crt")
    key_path = os.path.join(args.certs, f"{args.name}.key")
    bundle, cert, key = read(bundle_path, "trust bundle"), read(cert_path, "certificate"), read(key_path, "private key")

    expected = f"spiffe://{args.trust_domain}/control-plane"
    check_control_plane_identity(args.control_plane, bundle_path, cert_path, key_path, expected)
    options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
    channel = grpc.secure_channel(args.control_plane, grpc.ssl_channel_credentials(bundle, key, cert), options)
    control_plane = cp_grpc.ControlPlaneStub(channel)

    # Mesh clients ping every second while a call is open, to find a hung peer in seconds; gRPC C-core servers
    # would count those pings as abuse (one per 5 minutes allowed without data) and close the connection.
    server_options = [
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
        ("grpc.http2.max_ping_strikes", 0),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=server_options)
    health = Health()
    agent_grpc.add_AgentServicer_to_server(Reverser(args.trust_domain), server)
    health_grpc.add_HealthServicer_to_server(health, server)
    credentials = grpc.ssl_server_credentials([(key, cert)], root_certificates=bundle, require_client_auth=True)
    port = server.add_secure_port(args.listen, credentials)
    if port == 0:
        sys.exit(f"direct_agent.py: cannot listen on {args.listen}")
    server.start()
    endpoint = f"{args.listen.rpartition(':')[0]}:{port}"

    spec = types_pb2.AgentSpec(type=args.type, name=args.name, endpoint=endpoint, capabilities=["reverse"])
    lease_ms = int(args.lease_ttl * 1000)
    try:
        control_plane.Register(cp_pb2.RegisterRequest(spec=spec, lease_ttl_ms=lease_ms), timeout=10)
    except grpc.RpcError as error:
        server.stop(0)
        sys.exit(f"direct_agent.py: registering with {args.control_plane} failed: {error.code().name}: {error.details()}")
    print(f"python direct agent {args.name} registered as {args.type} at {endpoint} (mTLS)", flush=True)

    stopped = threading.Event()

    def heartbeat():
        failing = False  # an outage is reported once, and its end once, not at every heartbeat
        while not stopped.wait(args.lease_ttl / 3):
            try:
                control_plane.Heartbeat(cp_pb2.HeartbeatRequest(agent_id=args.name), timeout=5)
                if failing:
                    print("heartbeats answered again", file=sys.stderr, flush=True)
                failing = False
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:  # the lease ended, or the control plane restarted
                    try:
                        control_plane.Register(cp_pb2.RegisterRequest(spec=spec, lease_ttl_ms=lease_ms), timeout=5)
                        print("registration was lost; registered again", file=sys.stderr, flush=True)
                        continue
                    except grpc.RpcError:
                        pass
                if not failing:
                    print(f"heartbeat failed: {error.code().name}: {error.details()}", file=sys.stderr, flush=True)
                failing = True

    beats = threading.Thread(target=heartbeat, daemon=True)
    beats.start()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    # Drain: stop being routed to, let calls in flight finish, leave the registry.
    health.serving = False
    try:
        control_plane.Heartbeat(cp_pb2.HeartbeatRequest(agent_id=args.name, draining=True), timeout=5)
    except grpc.RpcError:
        pass
    server.stop(grace=5).wait()
    try:
        control_plane.Deregister(cp_pb2.DeregisterRequest(agent_id=args.name), timeout=5)
    except grpc.RpcError as error:
        print(f"deregister failed: {error.code().name}: {error.details()}", file=sys.stderr, flush=True)
    channel.close()


if __name__ == "__main__":
    main()
