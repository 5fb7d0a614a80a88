"""The deployment manifests validate offline against their schemas: k8s/ against the
Kubernetes API (kubernetes-validate, pinned to one version, unknown fields refused), the
KEDA ScaledObject against its CRD's schema (pinned in schemas/), docker-compose.yml
against the compose specification (compose-spec). Each validator is shown to refuse a
broken file too, so a pass means something."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import compose_spec
import jsonschema
import kubernetes_validate
import pytest
import yaml

from streams.config.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
KUBERNETES_VERSION = "1.33.0"
"""The Kubernetes API the manifests are checked against (kubernetes-validate's schemas)."""
KEDA_SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "keda-scaledobject-v1alpha1.schema.json").read_text()
)
NOT_KUBERNETES_API = frozenset({"Kustomization", "ScaledObject"})


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "k8s").glob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc:
                found.append((f"{path.name}#{index}:{doc['kind']}", doc))
    return found


DOCUMENTS = documents()


@pytest.mark.parametrize(
    ("name", "doc"),
    [(n, d) for n, d in DOCUMENTS if d["kind"] not in NOT_KUBERNETES_API],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_kubernetes_objects_validate_against_the_api(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validator_refuses_a_broken_object() -> None:
    deployment = next(d for _, d in DOCUMENTS if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def scaled_object() -> dict[str, Any]:
    return next(d for _, d in DOCUMENTS if d["kind"] == "ScaledObject")


def test_the_scaled_object_validates_against_the_keda_crd_schema() -> None:
    jsonschema.validate(scaled_object(), KEDA_SCHEMA)
    broken = json.loads(json.dumps(scaled_object()))
    broken["spec"]["maxReplicas"] = broken["spec"].pop("maxReplicaCount")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, KEDA_SCHEMA)


def test_the_scaled_object_scales_on_both_lanes_up_to_the_partitions() -> None:
    spec = scaled_object()["spec"]
    settings = Settings(kafka={"bootstrap_servers": "kafka:9092"})  # as deployed
    assert spec["maxReplicaCount"] == settings.partitions
    topics = {trigger["metadata"]["topic"] for trigger in spec["triggers"]}
    assert topics == {settings.topics.requests, settings.topics.bulk_requests}
    groups = {trigger["metadata"]["consumerGroup"] for trigger in spec["triggers"]}
    assert groups == {settings.worker.group_id}


def compose(data: dict[str, Any]) -> compose_spec.PyCompose:
    # PyYAML resolves the file's anchors and merge keys (`<<:`) first, as Compose does.
    return compose_spec.PyCompose.from_json(json.dumps(data))


def test_docker_compose_validates_against_the_compose_specification() -> None:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose(data).service_names()
    assert {"processor", "notifier", "ledger", "batches", "gateway"} <= set(services)
    broken = json.loads(json.dumps(data))
    broken["services"]["processor"]["restart"] = "sometimes"
    with pytest.raises(ValueError, match="sometimes"):
        compose(broken)


def test_production_basics_for_every_deployment() -> None:
    """Probes on /healthz, requests and a memory limit, a PodDisruptionBudget, and every
    manifest in the kustomization."""
    kustomization = yaml.safe_load((ROOT / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in (ROOT / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk - listed == {"secret.example.yaml"}  # applied by hand, with real values
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for _, d in DOCUMENTS
        if d["kind"] == "PodDisruptionBudget"
    }
    deployments = [d for _, d in DOCUMENTS if d["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        assert component in budgets, component
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/healthz", (component, probe)
        assert container["resources"]["requests"]["memory"], component
        assert container["resources"]["limits"]["memory"], component
