"""Which stored objects an account may name as its input (object references), and where
its outputs may be written.

An account reads its own uploads (``uploads/<account>/`` in the inputs bucket) and outputs
(``<account>/`` in the outputs bucket), plus the prefixes ``access.read_grants`` gives it —
nothing else: never the jobs bucket, never another account's prefix. A refused reference
raises exactly what a missing object raises, so the answer reveals neither the object nor
its bucket. The worker applies the rule to every request, whoever published it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streams.config.settings import S3Settings
from streams.exceptions import ObjectNotFoundError, OutputNotAllowedError
from streams.storage.layout import output_prefix, upload_prefix


def _parsed(grants: Mapping[str, Sequence[str]]) -> dict[str, list[tuple[str, str]]]:
    """``{"acct": ["s3://bucket/prefix/"]}`` as ``{"acct": [("bucket", "prefix/")]}``."""
    return {
        account: [_bucket_and_prefix(grant) for grant in entries]
        for account, entries in grants.items()
    }


def _bucket_and_prefix(grant: str) -> tuple[str, str]:
    bucket, prefix = grant.removeprefix("s3://").split("/", 1)
    return bucket, prefix


class ReadAccess:
    """The read rule for object references."""

    def __init__(self, s3: S3Settings, grants: Mapping[str, Sequence[str]]) -> None:
        self.s3 = s3
        self.grants = _parsed(grants)

    def prefixes(self, account: str) -> list[tuple[str, str]]:
        """(bucket, key prefix) pairs ``account`` may read."""
        own = [
            (self.s3.input_bucket, upload_prefix(account)),
            (self.s3.output_bucket, output_prefix(account)),
        ]
        return own + self.grants.get(account, [])

    def allows(self, account: str, bucket: str, key: str) -> bool:
        """Whether ``account`` may read ``s3://bucket/key`` (a key that passed the schema's
        checks, so it has no ``..`` segment to climb out of a prefix with)."""
        return any(bucket == b and key.startswith(p) for b, p in self.prefixes(account))

    def check(self, account: str, bucket: str, key: str) -> None:
        """:class:`ObjectNotFoundError` — the same as for a missing object — unless
        ``account`` may read the object."""
        if not self.allows(account, bucket, key):
            raise ObjectNotFoundError.at(bucket, key)


class WriteAccess:
    """The write rule for output locations: an account writes under its own prefix in the
    outputs bucket (``<account>/``) and under the prefixes ``access.write_grants`` gives it."""

    def __init__(self, s3: S3Settings, grants: Mapping[str, Sequence[str]]) -> None:
        self.s3 = s3
        self.grants = _parsed(grants)

    def prefixes(self, account: str) -> list[tuple[str, str]]:
        """(bucket, key prefix) pairs ``account`` may write."""
        own = [(self.s3.output_bucket, output_prefix(account))]
        return own + self.grants.get(account, [])

    def allows(self, account: str, bucket: str, key: str) -> bool:
        return any(bucket == b and key.startswith(p) for b, p in self.prefixes(account))

    def check(self, account: str, bucket: str, key: str) -> None:
        """:class:`OutputNotAllowedError` unless ``account`` may write ``s3://bucket/key``."""
        if not self.allows(account, bucket, key):
            raise OutputNotAllowedError(
                f"account {account} may not write s3://{bucket}/{key}; it writes under "
                + ", ".join(f"s3://{b}/{p}" for b, p in self.prefixes(account))
            )
