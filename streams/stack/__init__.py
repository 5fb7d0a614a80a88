"""The embedded stack: real Kafka-protocol and S3 servers from PyPI wheels, on loopback."""

from streams.stack.embedded import EmbeddedStack, Endpoint
from streams.stack.process import ManagedProcess
from streams.stack.provision import ensure_buckets, ensure_topics, provision

__all__ = [
    "EmbeddedStack",
    "Endpoint",
    "ManagedProcess",
    "ensure_buckets",
    "ensure_topics",
    "provision",
]
