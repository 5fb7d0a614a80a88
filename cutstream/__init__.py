"""cutstream for Python pipelines: the one package to import.

Publish background-removal requests and collect their results over Kafka and S3, build
requests and read events with the same models the service uses, and check the webhooks it
sends. See docs/sdk.md::

    from cutstream import Client, RemovalOptions

    async with Client() as client:  # settings from CUTSTREAM_* variables
        request = await client.submit("https://images.example/shoe.jpg", RemovalOptions())
        result = await client.wait(request.request_id, timeout=60)

Everything here is supported API; the modules behind it (``streams.*``, ``schemas.*``) may
move between releases.
"""

from __future__ import annotations

from schemas.errors import CutstreamError, ErrorCode
from schemas.events import (
    RESULT_EVENTS,
    SCHEMA_VERSION,
    DeadLetter,
    ErrorInfo,
    ForegroundBox,
    ImageCompleted,
    ImageError,
    ImageFailed,
    ImageRequest,
    ImageRequested,
    ImageResult,
    OutputInfo,
    ResultEvent,
)
from schemas.geometry import Anchor
from schemas.jobs import JobRecord, JobStatus
from schemas.options import Channels, OutputFormat, RemovalOptions, SizePreset
from schemas.presets import Preset
from schemas.refs import S3Object, UrlInput
from schemas.webhooks import ArtworkWebhook, JobsWebhook, NativeWebhook, WebhookFormat
from streams.client import Client, Outcome
from streams.config.settings import Settings
from streams.exceptions import QueueUnavailableError, StorageUnavailableError, SubmitTimeoutError
from streams.messaging.submit import new_request_id
from streams.net.urlguard import UrlNotAllowedError
from streams.notifier.signing import WebhookVerificationError, generate_secret, verify

__all__ = [
    "RESULT_EVENTS",
    "SCHEMA_VERSION",
    "Anchor",
    "ArtworkWebhook",
    "Channels",
    "Client",
    "CutstreamError",
    "DeadLetter",
    "ErrorCode",
    "ErrorInfo",
    "ForegroundBox",
    "ImageCompleted",
    "ImageError",
    "ImageFailed",
    "ImageRequest",
    "ImageRequested",
    "ImageResult",
    "JobRecord",
    "JobStatus",
    "JobsWebhook",
    "NativeWebhook",
    "Outcome",
    "OutputFormat",
    "OutputInfo",
    "Preset",
    "QueueUnavailableError",
    "RemovalOptions",
    "ResultEvent",
    "S3Object",
    "Settings",
    "SizePreset",
    "StorageUnavailableError",
    "SubmitTimeoutError",
    "UrlInput",
    "UrlNotAllowedError",
    "WebhookFormat",
    "WebhookVerificationError",
    "generate_secret",
    "new_request_id",
    "verify",
]
