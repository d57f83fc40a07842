#!/usr/bin/python3
"""A Python agent behind `agent-mesh sidecar`: plain gRPC on a Unix socket, no certificates, no mesh code.

It serves agentmesh.v1.Agent and grpc.health.v1 on `<socket dir>/app.sock`, in a directory only its user can enter
(mode 0700; made if missing), so that no other local process can call it past the sidecar. The sidecar beside it
proves the agent's identity, enforces the mesh's policies, and forwards the calls it admits; it tells this app the
verified caller in the metadata `x-agentmesh-caller` and gives each call a token, `x-agentmesh-call-token`.
Outbound calls go to the sidecar's socket `<socket dir>/outbound.sock` with the metadata `x-agentmesh-target-type`;
passing back the token of the call being handled continues its trace, conversation, caller chain and deadline.
Any other `x-agentmesh-*` header (a caller, a chain) would be ignored by the sidecar: the mesh owns them.

Methods: `shout` (the text in capitals), `whoami` (the caller and chain, as JSON), `ask` (calls another agent back
through the sidecar: payload {"type", "method", "text"} or {"type", "method", "json"}), `publish` (publishes an event
through the sidecar's agentmesh.v1.Events.Publish: payload {"topic", "json", "key"?}), and the stream `shout-words`
(one word per chunk).

Events: with `agent-mesh sidecar --subscribe <pattern>`, the sidecar calls this app's agentmesh.v1.EventHandler
HandleEvent once per delivery; it prints `python agent handled <topic> <id> <payload>` and acknowledges it, except an
event whose JSON payload has "retry": true, which it asks to have again once (RETRY on its first attempt).

    /usr/bin/python3 examples/python/agent.py --socket-dir /tmp/agent-mesh-$(id -u)/py-shouter-1
"""

import argparse
import json
import os
import signal
import stat
import sys
import threading
import time
from concurrent import futures

import grpc

import mesh_stubs

stubs = mesh_stubs.load()
agent_pb2, agent_grpc = stubs.agent, stubs.agent_grpc
health_pb2, health_grpc = stubs.health, stubs.health_grpc
events_pb2, events_grpc = stubs.events, stubs.events_grpc
types_pb2 = stubs.types

# The token of the call being handled, which an outbound call passes back to continue it.
CALL_TOKEN = "x-agentmesh-call-token"


class Shouter(agent_grpc.AgentServicer):
    def __init__(self, outbound, events, word_delay):
        self.outbound = outbound
        self.events = events
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
        if request.method == "publish":
            return self.publish(request, context, metadata)
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f'unknown method "{request.method}"; this agent serves shout, whoami, ask, publish and the stream shout-words',
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
            target, method = question["type"], question["method"]
            # "text" goes as text/plain; "json" (any JSON value) as application/json, e.g. a summarizer's document.
            if "json" in question:
                payload, content_type = json.dumps(question["json"]).encode(), "application/json"
            else:
                payload, content_type = question["text"].encode(), "text/plain"
        except (ValueError, KeyError, TypeError, AttributeError):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                'ask takes JSON: {"type": ..., "method": ..., "text": "..."} or {"type": ..., "method": ..., "json": ...}',
            )
        outbound_metadata = [("x-agentmesh-target-type", target)]
        if CALL_TOKEN in metadata:
            outbound_metadata.append((CALL_TOKEN, metadata[CALL_TOKEN]))
        remaining = context.time_remaining()
        try:
            answer = self.outbound.Invoke(
                agent_pb2.InvokeRequest(method=method, payload=payload, content_type=content_type),
                metadata=outbound_metadata,
                timeout=min(remaining, 10.0) if remaining is not None else 10.0,
            )
        except grpc.RpcError as error:
            context.abort(error.code(), f"{target}.{method} through the sidecar: {error.details()}")
        reply = {"asked": f"{target}.{method}", "answer": answer.payload.decode("utf-8", "replace")}
        return agent_pb2.InvokeResponse(payload=json.dumps(reply).encode(), content_type="application/json")


    def publish(self, request, context, metadata):
        """Publishes an event through the sidecar as this agent, continuing the call being handled."""
        if self.events is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no --outbound: this agent cannot publish")
        try:
            order = json.loads(request.payload)
            topic, body, key = order["topic"], json.dumps(order["json"]).encode(), order.get("key", "")
        except (ValueError, KeyError, TypeError, AttributeError):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'publish takes JSON: {"topic": ..., "json": ..., "key": ...}')
        outbound_metadata = [(CALL_TOKEN, metadata[CALL_TOKEN])] if CALL_TOKEN in metadata else []
        try:
            report = self.events.Publish(
                events_pb2.PublishRequest(topic=topic, payload=body, content_type="application/json", key=key),
                metadata=outbound_metadata,
                timeout=10.0,
            )
        except grpc.RpcError as error:
            context.abort(error.code(), f"publish to {topic} through the sidecar: {error.details()}")
        reply = {
            "eventId": report.event_id,
            "accepted": report.accepted,
            "subscriptions": report.subscriptions,
            "groups": report.groups,
            # With the mesh's event store (JetStream): where the stream stored it (0 brokerless).
            "sequence": report.sequence,
        }
        return agent_pb2.InvokeResponse(payload=json.dumps(reply).encode(), content_type="application/json")


class Inbox(events_grpc.EventHandlerServicer):
    """The events of the sidecar's --subscribe patterns, one call per delivery; the answer acknowledges it."""

    def HandleEvent(self, request, context):
        event = request.event
        try:
            wants_retry = json.loads(event.payload).get("retry") is True
        except (ValueError, AttributeError):
            wants_retry = False
        if wants_retry and request.attempt == 1:
            return events_pb2.HandleEventResponse(
                outcome=types_pb2.ACK_OUTCOME_RETRY, retry_after_ms=50, reason="asked to retry once"
            )
        payload = event.payload.decode("utf-8", "replace")
        print(f"python agent handled {event.topic} {event.id} {payload}", flush=True)
        return events_pb2.HandleEventResponse(outcome=types_pb2.ACK_OUTCOME_ACK)


class Health(health_grpc.HealthServicer):
    """grpc.health.v1 Check: SERVING, or NOT_SERVING once the agent is stopping. The sidecar mirrors it."""

    def __init__(self):
        self.serving = True

    def Check(self, request, context):
        status = health_pb2.HealthCheckResponse.SERVING if self.serving else health_pb2.HealthCheckResponse.NOT_SERVING
        return health_pb2.HealthCheckResponse(status=status)


def local_address(value):
    """unix:/absolute/path, or a loopback host:port."""
    if value.startswith("unix:"):
        if not value[len("unix:") :].startswith("/"):
            raise argparse.ArgumentTypeError(f'"{value}": a Unix socket is unix:/absolute/path')
        return value
    host, _, port = value.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "[::1]") or not port.isdigit():
        raise argparse.ArgumentTypeError(f'"{value}" must be unix:/absolute/path or a loopback host:port')
    return value


def private_dir(path):
    """Makes the socket directory (0700) when missing; refuses one that other users may enter."""
    path = os.path.abspath(path)
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.stat(path)
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        sys.exit(f"agent.py: {path} must belong to you with mode 0700 (other users could call this app): chmod 700 it")
    return path


def main():
    parser = argparse.ArgumentParser(description="A Python agent behind agent-mesh sidecar.")
    parser.add_argument(
        "--socket-dir",
        help="the sidecar's --socket-dir: serve on <dir>/app.sock, call other agents through <dir>/outbound.sock",
    )
    parser.add_argument("--listen", type=local_address, help="instead: where to serve (unix:/path or loopback)")
    parser.add_argument("--outbound", type=local_address, help="instead: the sidecar's outbound address")
    parser.add_argument("--word-delay", type=float, default=0.05, help="seconds between streamed words")
    args = parser.parse_args()
    if args.socket_dir:
        directory = private_dir(args.socket_dir)
        args.listen = args.listen or f"unix:{directory}/app.sock"
        args.outbound = args.outbound or f"unix:{directory}/outbound.sock"
    if not args.listen:
        parser.error("give --socket-dir (or --listen)")

    outbound = events = None
    if args.outbound:
        channel = grpc.insecure_channel(args.outbound)
        outbound, events = agent_grpc.AgentStub(channel), events_grpc.EventsStub(channel)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    health = Health()
    agent_grpc.add_AgentServicer_to_server(Shouter(outbound, events, args.word_delay), server)
    events_grpc.add_EventHandlerServicer_to_server(Inbox(), server)
    health_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port(args.listen)
    if port == 0:
        sys.exit(f"agent.py: cannot listen on {args.listen}")
    server.start()
    address = args.listen if args.listen.startswith("unix:") else f"{args.listen.rpartition(':')[0]}:{port}"
    print(f"python agent listening on {address}", flush=True)

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
