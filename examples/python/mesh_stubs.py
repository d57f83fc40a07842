"""Python stubs for the mesh's wire contract, generated from the repository's own protos when first needed.

The stubs are made from proto/agentmesh/v1/*.proto (and the standard grpc.health.v1 in protos/) with grpc_tools
(Debian: python3-grpc-tools) into generated/<hash of the protos>/, which git ignores: they can never drift from the
protos, and a change to a proto makes a fresh set on the next start. Run `python3 mesh_stubs.py` to generate them
ahead of time.
"""

import hashlib
import importlib
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INCLUDE_DIRS = [os.path.join(ROOT, "proto"), os.path.join(HERE, "protos")]
PROTO_FILES = [
    "agentmesh/v1/types.proto",
    "agentmesh/v1/agent.proto",
    "agentmesh/v1/control_plane.proto",
    "agentmesh/v1/events.proto",
    "health/v1/health.proto",
]


def _source(name):
    for directory in INCLUDE_DIRS:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"mesh_stubs: {name} not found under {INCLUDE_DIRS}")


def generate():
    """Generates the stubs unless they exist for these exact protos; returns their directory."""
    digest = hashlib.sha256()
    for name in PROTO_FILES:
        with open(_source(name), "rb") as proto:
            digest.update(name.encode() + b"\0" + proto.read())
    out = os.path.join(HERE, "generated", digest.hexdigest()[:16])
    if os.path.isdir(out):
        return out
    try:
        from grpc_tools import protoc
    except ImportError:
        raise SystemExit(
            "mesh_stubs: grpc_tools is missing: apt-get install python3-grpcio python3-grpc-tools "
            "(and run with /usr/bin/python3)"
        )
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # Generated in a temporary directory and renamed into place, so that processes starting together never see
    # half a set.
    work = tempfile.mkdtemp(prefix=".stubs-", dir=os.path.dirname(out))
    args = ["protoc", *[f"-I{d}" for d in INCLUDE_DIRS], f"--python_out={work}", f"--grpc_python_out={work}"]
    if protoc.main(args + PROTO_FILES) != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit("mesh_stubs: protoc failed on " + ", ".join(PROTO_FILES))
    try:
        os.rename(work, out)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)  # another process got there first
    return out


def load():
    """Generates (when needed) and imports the stubs: a namespace with types, agent, control_plane, events and health."""
    out = generate()
    if out not in sys.path:
        sys.path.insert(0, out)

    class Stubs:
        types = importlib.import_module("agentmesh.v1.types_pb2")
        agent = importlib.import_module("agentmesh.v1.agent_pb2")
        agent_grpc = importlib.import_module("agentmesh.v1.agent_pb2_grpc")
        control_plane = importlib.import_module("agentmesh.v1.control_plane_pb2")
        control_plane_grpc = importlib.import_module("agentmesh.v1.control_plane_pb2_grpc")
        events = importlib.import_module("agentmesh.v1.events_pb2")
        events_grpc = importlib.import_module("agentmesh.v1.events_pb2_grpc")
        health = importlib.import_module("health.v1.health_pb2")
        health_grpc = importlib.import_module("health.v1.health_pb2_grpc")

    return Stubs


if __name__ == "__main__":
    print(generate())
