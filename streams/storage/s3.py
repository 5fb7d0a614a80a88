"""The object store on any S3-compatible server (MinIO, AWS S3, the embedded one)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import DictType

from streams.config.settings import Settings
from streams.exceptions import ObjectNotFoundError, StorageUnavailableError
from streams.storage.base import ObjectStore

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchObject"})
_CLIENT_ERRORS = (S3Error, InvalidResponseError, ServerError, urllib3.exceptions.HTTPError)


def _is_status(exc: S3Error | InvalidResponseError, status: int) -> bool:
    if isinstance(exc, S3Error):
        return exc.response is not None and exc.response.status == status
    return f"Response code: {status}" in str(exc)


class S3ObjectStore(ObjectStore):
    """Any S3-compatible store (MinIO, AWS S3, the embedded one) through the minio client."""

    def __init__(
        self, settings: Settings, *, retries: int = 3, endpoint_url: str | None = None
    ) -> None:
        url = endpoint_url or settings.s3_endpoint
        endpoint = urlsplit(url)
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            raise ValueError(f"S3 endpoint must be an http(s) URL, got {url!r}")
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=60.0),
            retries=urllib3.Retry(
                total=retries, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
            ),
            maxsize=16,
        )
        self.endpoint = url
        self.client = Minio(
            endpoint.netloc,
            access_key=settings.s3.access_key,
            secret_key=settings.s3.secret_key.get_secret_value(),
            secure=endpoint.scheme == "https",
            region=settings.s3.region,
            http_client=http,
        )

    def _translate(self, exc: Exception, what: str) -> Exception:
        if isinstance(exc, S3Error) and exc.code in _NOT_FOUND_CODES:
            return ObjectNotFoundError(f"{what} does not exist")
        # Some servers (rclone) answer errors as text/xml: minio reports InvalidResponseError.
        if isinstance(exc, InvalidResponseError) and "Response code: 404" in str(exc):
            return ObjectNotFoundError(f"{what} does not exist")
        return StorageUnavailableError(f"object store at {self.endpoint} failed on {what}: {exc}")

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except _CLIENT_ERRORS as exc:
            raise self._translate(exc, what) from exc

    def ensure_bucket(self, bucket: str) -> None:
        with self._translated(f"bucket {bucket}"):
            if self.client.bucket_exists(bucket):
                return
            try:
                self.client.make_bucket(bucket)
            except S3Error as exc:  # created concurrently by another process
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        with self._translated(f"s3://{bucket}/{key}"):
            self.client.put_object(
                bucket, key, io.BytesIO(data), len(data), content_type=content_type
            )

    def put_file(self, bucket: str, key: str, path: Path, content_type: str) -> None:
        with self._translated(f"s3://{bucket}/{key}"):
            self.client.fput_object(bucket, key, str(path), content_type=content_type)

    def get(self, bucket: str, key: str) -> bytes:
        return self.get_with_etag(bucket, key)[0]

    def get_with_etag(self, bucket: str, key: str) -> tuple[bytes, str]:
        with self._translated(f"s3://{bucket}/{key}"):
            response = self.client.get_object(bucket, key)
            try:
                return response.read(), (response.headers.get("ETag") or "").strip('"')
            finally:
                response.close()
                response.release_conn()

    def put_if_absent(self, bucket: str, key: str, data: bytes, content_type: str) -> bool:
        return self._put_if(bucket, key, data, content_type, {"If-None-Match": "*"})

    def put_if_match(
        self, bucket: str, key: str, data: bytes, content_type: str, etag: str
    ) -> bool:
        return self._put_if(bucket, key, data, content_type, {"If-Match": f'"{etag}"'})

    def _put_if(
        self, bucket: str, key: str, data: bytes, content_type: str, condition: dict[str, str]
    ) -> bool:
        """A conditional PUT; ``False`` on 412 (or 404 for If-Match on nothing). minio-py's
        public put_object turns unknown headers into user metadata, so this uses its
        _put_object (stable through 7.x; the dependency is pinned below 8)."""
        headers: DictType = {"Content-Type": content_type, **condition}
        try:
            with self._translated(f"s3://{bucket}/{key}"):
                try:
                    self.client._put_object(bucket, key, data, headers=headers)
                except (S3Error, InvalidResponseError) as exc:
                    if _is_status(exc, 412):
                        return False
                    raise
        except ObjectNotFoundError:
            return False
        return True

    def delete(self, bucket: str, key: str) -> None:
        with self._translated(f"s3://{bucket}/{key}"):
            self.client.remove_object(bucket, key)

    def exists(self, bucket: str, key: str) -> bool:
        return self.etag(bucket, key) is not None

    def list_buckets(self) -> list[str]:
        with self._translated("list buckets"):
            return [bucket.name for bucket in self.client.list_buckets()]

    def etag(self, bucket: str, key: str) -> str | None:
        """The object's ETag (without quotes), or ``None`` if it does not exist."""
        try:
            with self._translated(f"s3://{bucket}/{key}"):
                return (self.client.stat_object(bucket, key).etag or "").strip('"')
        except ObjectNotFoundError:
            return None

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        with self._translated(f"s3://{bucket}/{prefix}*"):
            objects = self.client.list_objects(bucket, prefix=prefix, recursive=True)
            return sorted(obj.object_name for obj in objects if obj.object_name)

    def iter_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        with self._translated(f"s3://{bucket}/{prefix}*"):
            for obj in self.client.list_objects(bucket, prefix=prefix, recursive=True):
                if obj.object_name:
                    yield obj.object_name

    def stream(self, bucket: str, key: str, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
        with self._translated(f"s3://{bucket}/{key}"):
            response = self.client.get_object(bucket, key)
            try:
                yield from response.stream(chunk_bytes)
            finally:
                response.close()
                response.release_conn()

    def presigned_get_url(self, bucket: str, key: str, expires: timedelta) -> str:
        """A URL anyone holding it can GET the object with until ``expires`` passes."""
        return self.client.presigned_get_object(bucket, key, expires=expires)

    def public(self, settings: Settings) -> S3ObjectStore:
        """The store to presign output URLs with: this one, or one on
        ``s3.public_endpoint`` when outsiders reach the store at another address."""
        public = settings.s3.public_endpoint
        return S3ObjectStore(settings, endpoint_url=public) if public else self
