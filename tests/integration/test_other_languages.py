"""The "producing from other languages" walk-through of docs/events.md, run as written:
Debian's kcat (with a librdkafka 2.x) and the AWS CLI against the real stack and worker,
and the documented ajv snippet (Node) on every schema and on the events of that request."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.config.settings import Settings
from tests.images import photo_jpeg
from tests.integration.conftest import WorkerFactory
from tests.integration.gateway_helpers import image_of

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".tools" / "node" / "node_modules"  # `make node` installs ajv there


@pytest.fixture(scope="module")
def kcat(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """kcat, run with the librdkafka 2.x that the confluent-kafka wheel carries: Debian 12's
    librdkafka 2.0.2 cannot read the embedded broker's ApiVersions answer."""
    binary = shutil.which("kcat")
    assert binary, "kcat is missing: `make test` installs it (apt-get install kcat)"
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    (bundled,) = libs.glob("librdkafka*.so*")
    lib_dir = tmp_path_factory.mktemp("librdkafka")
    (lib_dir / "librdkafka.so.1").symlink_to(bundled)
    return ["env", f"LD_LIBRARY_PATH={lib_dir}", binary]


def run(argv: list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, timeout=60, env={**os.environ, **(env or {})}
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def aws(settings: Settings, *args: str) -> str:
    credentials = {
        "AWS_ACCESS_KEY_ID": settings.s3.access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3.secret_key.get_secret_value(),
        "AWS_DEFAULT_REGION": settings.s3.region,
    }
    binary = str(Path(sys.executable).parent / "aws")
    return run([binary, "--endpoint-url", settings.s3_endpoint, *args], env=credentials)


async def test_kcat_and_the_aws_cli_drive_a_request_end_to_end(
    settings: Settings, start_worker: WorkerFactory, kcat: list[str], tmp_path: Path
) -> None:
    start_worker()
    broker, topics = settings.kafka_bootstrap, settings.topics
    image = tmp_path / "cup.jpg"
    image.write_bytes(photo_jpeg("coffee"))
    key = "uploads/acme/kcat-1/cup.jpg"  # the account's own upload prefix
    aws(settings, "s3", "cp", str(image), f"s3://{settings.s3.input_bucket}/{key}")

    request = {
        "request_id": "kcat-1",
        "account": "acme",
        "trace_id": "order-7731",
        "payload": {
            "input": {"bucket": settings.s3.input_bucket, "key": key},
            "options": {"format": "png", "size": "small"},
        },
    }
    run(
        [
            *kcat,
            "-P",
            "-b",
            broker,
            "-t",
            topics.requests,
            "-K",
            r"\t",  # kcat reads the escape, as in the docs
            "-X",
            "partitioner=murmur2_random",
        ],
        stdin=f"kcat-1\t{json.dumps(request)}\n".encode(),
    )

    # The partition kcat chose is the one Java clients (and the workers' producers) choose.
    placed = run([*kcat, "-C", "-b", broker, "-t", topics.requests, "-e", "-q", "-f", "%k %p\n"])
    partition = int(dict(line.split() for line in placed.splitlines())["kcat-1"])
    all_partitions = list(range(settings.partitions))
    assert partition == DefaultPartitioner()(b"kcat-1", all_partitions, all_partitions)

    deadline = time.monotonic() + 180
    result = None
    while result is None:
        assert time.monotonic() < deadline, "no completion for kcat-1"
        lines = run([*kcat, "-C", "-b", broker, "-t", topics.completed, "-e", "-q"]).splitlines()
        result = next((json.loads(line) for line in lines if '"kcat-1"' in line), None)
        await asyncio.sleep(1)
    assert (result["type"], result["account"], result["trace_id"]) == (
        "image.completed",
        "acme",
        "order-7731",
    )
    output = result["payload"]["output"]
    target = tmp_path / "cutout.png"
    aws(settings, "s3", "cp", f"s3://{output['bucket']}/{output['key']}", str(target))
    assert image_of(target.read_bytes()).size == (output["width"], output["height"])

    misspelt = json.loads(json.dumps(request))
    misspelt["payload"]["options"]["bgcolor"] = "white"
    report = ajv_errors(
        tmp_path,
        [("image.requested", request), ("image.completed", result), ("image.requested", misspelt)],
    )
    assert report[:2] == [None, None]
    assert [error["params"] for error in report[2]] == [{"additionalProperty": "bgcolor"}]


def ajv_errors(tmp_path: Path, documents: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Runs docs/events.md's ajv snippet as written (in a folder holding the repository's
    `schemas/` and the installed `node_modules`), compiles every schema with the same
    strict instance, and validates each document against its named schema: ajv's errors for
    each document, or None where it is valid."""
    node = shutil.which("node")
    assert node, "node is missing: `make test` installs it (apt-get install nodejs npm)"
    assert (NODE_MODULES / "ajv-formats").is_dir(), "ajv is missing: `make node` installs it"
    snippet = (ROOT / "docs" / "events.md").read_text().split("```js\n", 1)[1].split("```")[0]
    here = tmp_path / "ajv"
    here.mkdir()
    (here / "node_modules").symlink_to(NODE_MODULES)
    (here / "schemas").symlink_to(ROOT / "schemas")
    check = f"""
const compiled = {{"image.requested": validate}};
for (const file of fs.readdirSync("schemas/json")) {{
  const name = file.replace(".schema.json", "");
  const schema = JSON.parse(fs.readFileSync(`schemas/json/${{file}}`, "utf8"));
  compiled[name] ??= ajv.compile(schema);
}}
const report = {json.dumps(documents)}.map(([name, document]) =>
  compiled[name](document) ? null : compiled[name].errors);
console.log(JSON.stringify(report));
"""
    done = subprocess.run(
        [node, "--input-type=module", "-e", snippet + check],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr  # strict mode throws on a schema it refuses
    report: list[Any] = json.loads(done.stdout)
    return report
