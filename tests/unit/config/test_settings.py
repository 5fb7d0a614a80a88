from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.config.settings import Settings
from tests.imports import heavy_modules_loaded_by


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CUTSTREAM_* variables or .env file from the developer's shell leak in."""
    for name in list(os.environ):
        if name.startswith("CUTSTREAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_use_the_embedded_stack() -> None:
    settings = Settings()
    assert settings.kafka_embedded
    assert settings.s3_embedded
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.s3_endpoint == "http://127.0.0.1:9000"
    assert settings.partitions == 4  # the embedded broker polls fewer partitions
    assert settings.partitions_of(settings.retry_due_topic) == 1
    assert settings.partitions_of(settings.webhook_retry_topics[0]) == 1
    assert Settings(kafka={"bootstrap_servers": "k:9092"}).partitions == 12


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUTSTREAM_KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("CUTSTREAM_S3__ENDPOINT", "https://minio.example:9000")
    monkeypatch.setenv("CUTSTREAM_TOPICS__PARTITIONS", "24")
    monkeypatch.setenv("CUTSTREAM_MODELS__PROVIDERS", '["CPUExecutionProvider"]')
    settings = Settings()
    assert not settings.kafka_embedded
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"
    assert settings.s3_endpoint == "https://minio.example:9000"
    assert settings.partitions == 24
    assert settings.models.providers == ("CPUExecutionProvider",)


def test_secret_is_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUTSTREAM_S3__SECRET_KEY", "super-secret-value")
    settings = Settings()
    assert "super-secret-value" not in repr(settings)
    assert settings.s3.secret_key.get_secret_value() == "super-secret-value"


def test_to_env_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Settings(
        kafka={"bootstrap_servers": "k:1"},
        s3={"secret_key": "another-secret", "input_bucket": "in-b"},
        topics={"requests": "req.t", "partitions": 3},
        models={
            "providers": ["CPUExecutionProvider"],
            "intra_op_threads": 2,
            "custom": {"mine": {"family": "isnet", "path": "/models/mine.onnx"}},
        },
        stack={"kafka_storage": "memory"},
        webhooks={
            "secrets": ["whsec_" + "A" * 32],
            "account_secrets": {"acme": ["whsec_" + "B" * 32, "whsec_" + "C" * 32]},
        },
        worker={"retry_delays_s": [1.0, 2.0]},
    )
    for name, value in original.to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings() == original


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CUTSTREAM_S3__ACCESS_KEY", "ab"),
        ("CUTSTREAM_S3__SECRET_KEY", "short"),
        ("CUTSTREAM_TOPICS__PARTITIONS", "0"),
        ("CUTSTREAM_STACK__KAFKA_STORAGE", "disk"),
        ("CUTSTREAM_WEBHOOKS__SECRETS", '["not-a-whsec-secret"]'),
    ],
)
def test_invalid_values_name_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    field = variable.split("__")[-1].lower()
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.state_dir = Path("/elsewhere")  # type: ignore[misc]


def test_former_names_still_work_and_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUTSTREAM_WORKER__LOG_LEVEL", "debug")
    monkeypatch.setenv("CUTSTREAM_WEBHOOKS__OUTPUT_URL_EXPIRY_S", "600")
    with pytest.warns(FutureWarning) as warned:
        settings = Settings()
    assert {str(w.message) for w in warned} == {
        "CUTSTREAM_WORKER__LOG_LEVEL is now CUTSTREAM_RUNTIME__LOG_LEVEL",
        "CUTSTREAM_WEBHOOKS__OUTPUT_URL_EXPIRY_S is now CUTSTREAM_OUTPUTS__URL_EXPIRY_S",
    }
    assert settings.runtime.log_level == "debug"
    assert settings.outputs.url_expiry_s == 600


def test_the_new_name_wins_over_the_former(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUTSTREAM_WORKER__SHUTDOWN_GRACE_S", "5")
    monkeypatch.setenv("CUTSTREAM_RUNTIME__SHUTDOWN_GRACE_S", "7")
    with pytest.warns(FutureWarning):
        settings = Settings()
    assert settings.runtime.shutdown_grace_s == 7


def test_loading_settings_loads_no_image_libraries() -> None:
    assert heavy_modules_loaded_by("streams.config.settings") == []


def test_prices_by_shape_operation_and_renditions() -> None:
    metering = Settings(
        metering={"prices": {"default": 1, "remove-bg": 10, "rembg/blur": 3}, "rendition_price": 2}
    ).metering
    assert metering.price("native") == 1
    assert metering.price("remove-bg") == 10
    assert metering.price("rembg", "blur") == 3
    assert metering.price("rembg", "color") == 1
    assert metering.price("native", renditions=0) == 1  # no outputs listed: one
    assert metering.price("native", renditions=1) == 1
    assert metering.price("native", renditions=4) == 1 + 3 * 2
    assert Settings().metering.price("native", renditions=8) == 1  # extra renditions free
