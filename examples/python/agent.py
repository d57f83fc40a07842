#!/usr/bin/python3
"""A Python agent behind `agent-mesh sidecar`: plain gRPC on loopback, no certificates, no mesh code.

It serves agentmesh.v1.Agent and grpc.health.v1 on a loopback port. The sidecar beside it proves the agent's
identity, enforces the mesh's policies, and forwards the calls it admits; it tells this app the verified caller in
the metadata `x-agentmesh-caller`. Outbound calls go to the sidecar's outbound port with the metadata
`x-agentmesh-target-type`; passing on the context headers received (traceparent, x-agentmesh-*) continues the
trace, the conversation and the caller chain.

Methods: `shout` (the text in capitals), `whoami` (the caller and chain, as JSON), `ask` (calls another agent back
through the sidecar: payload {"type", "method", "text"}), and the stream `shout-words` (one word per chunk).

    /usr/bin/python3 examples/python/agent.py --listen 127.0.0.1:50051 --outbound 127.0.0.1:50052
"""

import argparse
import json
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import mesh_stubs

stubs = mesh_stubs.load()
agent_pb2, agent_grpc = stubs.agent, stubs.agent_grpc
health_pb2, health_grpc = stubs.health, stubs.health_grpc

# What an outbound call passes on from the call being handled: the mesh's context headers.
CONTEXT_HEADERS = (
    "traceparent",
    "tracestate",
    "x-agentmesh-conversation",
    "x-agentmesh-tenant",
    "x-agentmesh-chain",
)


class Shouter(agent_grpc.AgentServicer):
    def __init__(self, outbound, word_delay):
        self.outbound = outbound
        self.word_delay = word_delay

    def Invoke(self, request, context):
        metadata = dict(context.invocation_metadata())
        if request.method == "shout":
            text = request.payload.decode("utf-8", "replace")
            return agent_pb2.InvokeResponse(payload=(text.upper() + "!").encode(), content_type="text/plain")
        if request.method == "whoami":
            answer = {
                "caller": metadata.get("x-agentmesh-caller", ""),
                "chain": [entry for entry in metadata.get("x-agentmesh-chain", "").split(",") if entry],
                "conversation": request.context.conversation_id,
            }
            return agent_pb2.InvokeResponse(payload=json.dumps(answer).encode(), content_type="application/json")
        if request.method == "ask":
            return self.ask(request, context, metadata)
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f'unknown method "{request.method}"; this agent serves shout, whoami, ask and the stream shout-words',
        )

    def InvokeStream(self, request, context):
        if request.method != "shout-words":
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f'unknown stream "{request.method}"; try shout-words')
        for word in request.payload.decode("utf-8", "replace").split():
            if not context.is_active():
                return
            yield agent_pb2.InvokeChunk(payload=word.upper().encode(), content_type="text/plain")
            time.sleep(self.word_delay)

    def ask(self, request, context, metadata):
        """Calls another agent through the sidecar's outbound port, on behalf of the call being handled."""
        if self.outbound is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no --outbound: this agent cannot call others")
        try:
            question = json.loads(request.payload)
            target, method, text = question["type"], question["method"], question["text"]
        except (ValueError, KeyError, TypeError):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'ask takes JSON: {"type": ..., "method": ..., "text": ...}')
        outbound_metadata = [(key, metadata[key]) for key in CONTEXT_HEADERS if key in metadata]
        outbound_metadata.append(("x-agentmesh-target-type", target))
        remaining = context.time_remaining()
        try:
            answer = self.outbound.Invoke(
                agent_pb2.InvokeRequest(method=method, payload=text.encode(), content_type="text/plain"),
                metadata=outbound_metadata,
                timeout=min(remaining, 10.0) if remaining is not None else 10.0,
            )
        except grpc.RpcError as error:
            context.abort(error.code(), f"{target}.{method} through the sidecar: {error.details()}")
        reply = {"asked": f"{target}.{method}", "answer": answer.payload.decode("utf-8", "replace")}
        return agent_pb2.InvokeResponse(payload=json.dumps(reply).encode(), content_type="application/json")


class Health(health_grpc.HealthServicer):
    """grpc.health.v1 Check: SERVING, or NOT_SERVING once the agent is stopping. The sidecar mirrors it."""

    def __init__(self):
        self.serving = True

    def Check(self, request, context):
        status = health_pb2.HealthCheckResponse.SERVING if self.serving else health_pb2.HealthCheckResponse.NOT_SERVING
        return health_pb2.HealthCheckResponse(status=status)


def loopback(value):
    host, _, port = value.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "[::1]") or not port.isdigit():
        raise argparse.ArgumentTypeError(f'"{value}" must be a loopback host:port, e.g. 127.0.0.1:50051')
    return value


def main():
    parser = argparse.ArgumentParser(description="A Python agent behind agent-mesh sidecar.")
    parser.add_argument("--listen", type=loopback, default="127.0.0.1:50051", help="plaintext gRPC, loopback only")
    parser.add_argument("--outbound", type=loopback, help="the sidecar's --outbound-listen address")
    parser.add_argument("--word-delay", type=float, default=0.05, help="seconds between streamed words")
    args = parser.parse_args()

    outbound = None
    if args.outbound:
        outbound = agent_grpc.AgentStub(grpc.insecure_channel(args.outbound))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    health = Health()
    agent_grpc.add_AgentServicer_to_server(Shouter(outbound, args.word_delay), server)
    health_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port(args.listen)
    if port == 0:
        sys.exit(f"agent.py: cannot listen on {args.listen}")
    server.start()
    host = args.listen.rpartition(":")[0]
    print(f"python agent listening on {host}:{port}", flush=True)

    stopped = threading.Event()

    def stop(signum, _frame):
        health.serving = False
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    main()
