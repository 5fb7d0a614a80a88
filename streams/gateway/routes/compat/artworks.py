"""The artworks shape: ``/v2/artworks`` — submit an image URL, poll or get a webhook with
the artwork object."""

from __future__ import annotations

from fastapi import APIRouter

from schemas.api.compat import Artwork, ArtworkCreate, ArtworkError, artwork_of
from schemas.jobs import JobRecord
from schemas.webhooks import WebhookFormat
from streams.gateway.deps import Account, Service, validated_options
from streams.gateway.inputs import checked_url, checked_webhook, missing_image
from streams.gateway.routes.compat.common import errors
from streams.gateway.service import Gateway

router = APIRouter(tags=["artworks: /v2/artworks"])


def artwork_view(service: Gateway, record: JobRecord) -> Artwork:
    return artwork_of(record, service.output_url(record.output) if record.output else None)


@router.post(
    "/v2/artworks/remove-background",
    status_code=202,
    response_model=Artwork,
    responses=errors(ArtworkError, 400, 401, 503),
    summary="Remove the background of an image URL (async)",
)
async def create_artwork(body: ArtworkCreate, account: Account, service: Service) -> Artwork:
    if not body.image_url:
        raise missing_image("imageUrl")
    source = await checked_url(body.image_url, service.url_policy)
    webhook = await checked_webhook(body.webhook, service.url_policy)
    output_format = "webp" if body.output_format == "auto" else body.output_format
    options = validated_options({"format": output_format})
    record = await service.submit(
        account,
        source,
        options,
        webhook_url=webhook,
        webhook_format=WebhookFormat.ARTWORKS,
        shape="artworks",
    )
    return artwork_view(service, record)


@router.get(
    "/v2/artworks/{artwork_id}",
    response_model=Artwork,
    responses=errors(ArtworkError, 401, 404),
    summary="Get an artwork",
)
async def get_artwork(artwork_id: str, account: Account, service: Service) -> Artwork:
    return artwork_view(service, await service.job(account, artwork_id))
