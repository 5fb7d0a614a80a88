"""The read rule for object references."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.refs import S3Object
from streams.config.settings import S3Settings, Settings
from streams.exceptions import ObjectNotFoundError
from streams.storage.access import ReadAccess

ACCESS = ReadAccess(S3Settings(), {"sync": ["s3://catalog/", "s3://cutstream-inputs/shared/"]})


@pytest.mark.parametrize(
    ("account", "bucket", "key", "allowed"),
    [
        ("acme", "cutstream-inputs", "uploads/acme/r-1/cup.jpg", True),
        ("acme", "cutstream-outputs", "acme/r-1.png", True),
        ("acme", "cutstream-inputs", "uploads/acmeco/r-1/cup.jpg", False),  # a longer name
        ("acme", "cutstream-inputs", "uploads/other/r-1/cup.jpg", False),
        ("acme", "cutstream-outputs", "other/r-1.png", False),
        ("acme", "cutstream-jobs", "acme/r-1.json", False),
        ("acme", "cutstream-jobs", "_keys/0123456789abcdef.json", False),
        ("acme", "catalog", "sku-1.jpg", False),
        ("sync", "catalog", "a/b/sku-1.jpg", True),
        ("sync", "cutstream-inputs", "shared/sku-1.jpg", True),
        ("sync", "cutstream-inputs", "shared-not/sku-1.jpg", False),
        ("sync", "cutstream-inputs", "uploads/sync/r-1/x.jpg", True),
    ],
)
def test_own_prefixes_and_grants(account: str, bucket: str, key: str, allowed: bool) -> None:
    assert ACCESS.allows(account, bucket, key) is allowed


def test_a_refusal_is_the_not_found_error() -> None:
    with pytest.raises(ObjectNotFoundError) as refused:
        ACCESS.check("acme", "cutstream-jobs", "_keys/0123456789abcdef.json")
    assert (
        refused.value.message
        == ObjectNotFoundError.at("cutstream-jobs", "_keys/0123456789abcdef.json").message
    )


@pytest.mark.parametrize(
    "key", ["uploads/acme/../other/x.jpg", "/uploads/acme/x.jpg", "a//b", "a/./b"]
)
def test_keys_that_could_climb_out_of_a_prefix_are_invalid(key: str) -> None:
    with pytest.raises(ValidationError, match="segments"):
        S3Object(bucket="cutstream-inputs", key=key)


@pytest.mark.parametrize("grant", ["catalog/", "s3://catalog", "s3://Catalog/", "s3://catalog/a"])
def test_grants_must_name_a_bucket_and_a_prefix(grant: str) -> None:
    with pytest.raises(ValidationError, match="read_grants"):
        Settings(access={"read_grants": {"sync": [grant]}})
