"""docker-compose.yml and k8s/ only use settings that exist, with values that validate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config.settings import Settings, setting_names

ROOT = Path(__file__).resolve().parents[3]
FILES = [ROOT / "docker-compose.yml", *sorted((ROOT / "k8s").glob("*.yaml"))]


def cutstream_variables(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("CUTSTREAM_"):
                yield key, str(value)
            else:
                yield from cutstream_variables(value)
    elif isinstance(node, list):
        for item in node:
            yield from cutstream_variables(item)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_deployment_variables_are_real_settings(
    path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = list(yaml.safe_load_all(path.read_text()))
    variables = dict(pair for doc in documents for pair in cutstream_variables(doc))
    unknown = set(variables) - setting_names()
    assert not unknown, f"{path.name} sets unknown settings: {sorted(unknown)}"
    monkeypatch.chdir(tmp_path)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    Settings()  # raises if a value does not validate


def test_compose_and_kubernetes_files_exist() -> None:
    assert (ROOT / "docker-compose.yml").is_file()
    assert len(FILES) > 3
