"""Write JSON Schema files for producers and consumers in other languages.

``python -m schemas.export`` (or ``make docs``) rewrites ``schemas/json/``; a test fails
when the checked-in files differ from the models. Requests are exported in validation
mode (what a producer may send); results, dead letters, job records, usage events and
webhook bodies in serialisation mode (what a consumer receives).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from schemas.batches import BatchCompleted, BatchItemDone, BatchSubmitted
from schemas.events import DeadLetter, ImageCompleted, ImageFailed, ImageRequested
from schemas.jobs import JobRecord
from schemas.ledger import UsageEvent
from schemas.webhooks import ArtworkWebhook, BatchWebhook, JobsWebhook, NativeWebhook

JSON_DIR = Path(__file__).parent / "json"

EXPORTS: dict[str, tuple[type[BaseModel], Literal["validation", "serialization"]]] = {
    "image.requested": (ImageRequested, "validation"),
    "image.completed": (ImageCompleted, "serialization"),
    "image.failed": (ImageFailed, "serialization"),
    "dead_letter": (DeadLetter, "serialization"),
    "job_record": (JobRecord, "serialization"),
    "usage": (UsageEvent, "serialization"),
    "batch.submitted": (BatchSubmitted, "validation"),
    "batch.item": (BatchItemDone, "serialization"),
    "batch.completed": (BatchCompleted, "serialization"),
    # Webhook bodies, by `webhook_format` (docs/webhooks.md).
    "webhook.native": (NativeWebhook, "serialization"),
    "webhook.batch": (BatchWebhook, "serialization"),
    "webhook.jobs": (JobsWebhook, "serialization"),
    "webhook.artworks": (ArtworkWebhook, "serialization"),
}


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema document."""
    documents = {}
    for name, (model, mode) in EXPORTS.items():
        schema = model.model_json_schema(mode=mode)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://cutstream.dev/schemas/v1/{name}.schema.json"
        documents[f"{name}.schema.json"] = schema
    return documents


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for filename, schema in schemas().items():
        (JSON_DIR / filename).write_text(render(schema))


if __name__ == "__main__":
    main()
