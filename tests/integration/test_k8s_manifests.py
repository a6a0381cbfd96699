"""deploy/k8s rendered with kustomize and validated offline with kubeconform, then read.

Every overlay is rendered by ``kubectl kustomize`` and every document checked by
kubeconform ``-strict`` against the schema of its kind (tests/k8s_schemas.py):
none may be invalid, none may fail, and none may be skipped for want of a
schema. A deliberately broken copy shows the check can fail. Then the links a
schema cannot see are checked on the rendered documents: monitors select
Services that exist, KEDA scales the worker on the worker's own group, topics are
replicated 3 with min.insync 2, the PrometheusRule is the alert file, every
``REGSOSEK_*`` variable is a real setting, and no Secret carries a value.

No cluster is needed; what this cannot check (the operators' admission, the
Altinity kinds beyond our own schema) is listed in docs/kubernetes.md.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings, unknown_variables
from streams.topics import SUBMISSIONS, named
from tests.k8s_schemas import SchemaCatalog, SchemaSetupError, ensure_schemas, kubeconform_binary

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("regency", "national")
Doc = dict[str, Any]


@pytest.fixture(scope="session")
def catalog() -> SchemaCatalog:
    """The schema catalog from the cache (prepared by ``make setup``, else now)."""
    try:
        return ensure_schemas()
    except SchemaSetupError as exc:
        pytest.fail(f"k8s schemas unavailable: {exc}")


@pytest.fixture(scope="session")
def kubeconform() -> Path:
    """kubeconform, installed by ``make setup``; missing: fail with the command, never skip."""
    try:
        return kubeconform_binary()
    except SchemaSetupError as exc:
        pytest.fail(str(exc))


def kubectl() -> str:
    """The kubectl binary (its built-in kustomize renders); missing: fail with the command."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail(
            "kubectl is not installed: `apt-get install -y kubernetes-client` or see "
            "https://kubernetes.io/docs/tasks/tools/ (kustomize v5 is built in)"
        )
    return found


def render(directory: Path) -> str:
    """``kubectl kustomize`` of one kustomization directory."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    """One overlay's name and its rendered documents."""
    name: str = request.param
    return name, [d for d in yaml.safe_load_all(render(K8S / "overlays" / name)) if d]


def validate(
    kubeconform: Path, catalog: SchemaCatalog, documents: Sequence[Doc], where: Path
) -> dict[str, Any]:
    """Run kubeconform -strict over ``documents``: its JSON report (resources, summary)."""
    where.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    command = [str(kubeconform), "-strict", "-summary", "-output", "json"]
    for location in catalog.locations():
        command += ["-schema-location", location]
    done = subprocess.run([*command, str(where)], capture_output=True, text=True, check=False)
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def problems(report: Mapping[str, Any]) -> list[str]:
    """One line per document kubeconform did not find valid."""
    return [
        f"{r['kind']}/{r['name']}: {r['status']}: {r.get('msg', '')}"
        for r in report.get("resources", [])
        if r["status"] != "statusValid"
    ]


def test_every_document_of_the_overlay_is_valid(
    overlay: tuple[str, list[Doc]], kubeconform: Path, catalog: SchemaCatalog, tmp_path: Path
) -> None:
    _, documents = overlay
    report = validate(kubeconform, catalog, documents, tmp_path / "rendered.yaml")
    assert problems(report) == []
    summary = report["summary"]
    assert (summary["invalid"], summary["errors"], summary["skipped"]) == (0, 0, 0)
    assert summary["valid"] == len(documents)
    kinds = {d["kind"] for d in documents}
    assert {
        "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job",
        "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser",
        "ClickHouseInstallation", "ClickHouseKeeperInstallation",
        "ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule", "ConfigMap",
    } <= kinds  # fmt: skip


def embedded_objects(documents: Sequence[Doc]) -> Iterator[Doc]:
    """The Altinity kinds' pod, volume-claim and service templates as Kubernetes objects.

    Our own schema of those kinds leaves these ``spec`` s to the built-in schemas.
    """
    wrap = {"podTemplates": ("v1", "Pod"), "volumeClaimTemplates": ("v1", "PersistentVolumeClaim"),
            "serviceTemplates": ("v1", "Service")}  # fmt: skip
    for document in documents:
        if document["kind"] not in ("ClickHouseInstallation", "ClickHouseKeeperInstallation"):
            continue
        for section, (api_version, kind) in wrap.items():
            for template in document["spec"].get("templates", {}).get(section, []):
                yield {
                    "apiVersion": api_version,
                    "kind": kind,
                    "metadata": {"name": f"{document['metadata']['name']}-{template['name']}"},
                    "spec": template["spec"],
                }


def test_the_clickhouse_templates_are_valid_kubernetes_objects(
    overlay: tuple[str, list[Doc]], kubeconform: Path, catalog: SchemaCatalog, tmp_path: Path
) -> None:
    _, documents = overlay
    embedded = list(embedded_objects(documents))
    assert {d["kind"] for d in embedded} == {"Pod", "PersistentVolumeClaim", "Service"}
    report = validate(kubeconform, catalog, embedded, tmp_path / "embedded.yaml")
    assert problems(report) == []
    assert report["summary"]["valid"] == len(embedded)


def test_a_broken_copy_is_reported_invalid(
    kubeconform: Path, catalog: SchemaCatalog, tmp_path: Path
) -> None:
    """The check is not vacuous: a typo in a built-in kind and in each operator's kind fails."""
    documents = [d for d in yaml.safe_load_all(render(K8S / "overlays" / "regency")) if d]
    broken = copy.deepcopy(documents)
    typos = {
        "Deployment": lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
            imagePullPolicyy="Always"
        ),
        "KafkaNodePool": lambda d: d["spec"].update(replica=3),
        "ServiceMonitor": lambda d: d["spec"]["endpoints"][0].update(intervall="15s"),
        "ScaledObject": lambda d: d["spec"].update(maxReplicas=6),
        "ClickHouseInstallation": lambda d: d["spec"]["configuration"]["clusters"][0][
            "layout"
        ].update(shardCount=2),
    }
    spoiled = {}
    for document in broken:
        if document["kind"] in typos and document["kind"] not in spoiled:
            typos[document["kind"]](document)
            spoiled[document["kind"]] = document["metadata"]["name"]
    assert set(spoiled) == set(typos)
    # and one without any schema: it must fail, not be skipped
    broken.append(
        {"apiVersion": "example.invalid/v1", "kind": "Unknown", "metadata": {"name": "x"}}
    )
    report = validate(kubeconform, catalog, broken, tmp_path / "broken.yaml")
    status = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    for kind, name in spoiled.items():
        assert status[(kind, name)] == "statusInvalid", (kind, name)
    assert status[("Unknown", "x")] == "statusError"
    assert report["summary"]["invalid"] == len(typos)
    assert report["summary"]["skipped"] == 0


# --- links no schema can see --------------------------------------------------------------


def of_kind(documents: Sequence[Doc], kind: str) -> list[Doc]:
    return [d for d in documents if d["kind"] == kind]


def one(documents: Sequence[Doc], kind: str, name: str) -> Doc:
    found = [d for d in of_kind(documents, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def settings_map(documents: Sequence[Doc]) -> dict[str, str]:
    """The shared REGSOSEK_* ConfigMap (its name carries kustomize's hash)."""
    found = [
        d
        for d in of_kind(documents, "ConfigMap")
        if d["metadata"]["name"].startswith("regsosek-settings-")
    ]
    assert len(found) == 1
    data: dict[str, str] = found[0]["data"]
    return data


def pod_specs(documents: Sequence[Doc]) -> Iterator[tuple[str, Doc]]:
    for document in documents:
        if document["kind"] in ("Deployment", "Job"):
            yield document["metadata"]["name"], document["spec"]["template"]["spec"]


def test_service_monitors_select_services_that_exist_and_name_the_alerts_jobs(
    overlay: tuple[str, list[Doc]],
) -> None:
    _, documents = overlay
    services = of_kind(documents, "Service")
    jobs = set()
    for monitor in of_kind(documents, "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        selected = [
            s
            for s in services
            if s["metadata"].get("namespace") == monitor["metadata"].get("namespace")
            and wanted.items() <= s["metadata"].get("labels", {}).items()
        ]
        assert len(selected) == 1, monitor["metadata"]["name"]
        ports = {p["name"] for p in selected[0]["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
        jobs.add(selected[0]["metadata"]["labels"][monitor["spec"]["jobLabel"]])
    alert_text = (ROOT / "monitoring" / "alerts" / "regsosek.yml").read_text()
    assert jobs == set(re.findall(r'job="([a-z]+)"', alert_text))


def test_keda_scales_the_worker_on_its_own_group_up_to_the_partitions(
    overlay: tuple[str, list[Doc]],
) -> None:
    _, documents = overlay
    settings = settings_map(documents)
    prefix = settings["REGSOSEK_TOPIC_PREFIX"]
    assert prefix == Settings.model_fields["topic_prefix"].default
    (scaled,) = of_kind(documents, "ScaledObject")
    target = scaled["spec"]["scaleTargetRef"]
    worker = one(documents, target.get("kind", "Deployment"), target["name"])
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    (trigger,) = scaled["spec"]["triggers"]
    # the worker's group is its Faust app id, f"{topic_prefix}-worker" (streams/worker/app.py)
    assert trigger["metadata"]["consumerGroup"] == f"{prefix}-worker"
    assert trigger["metadata"]["topic"] == named(SUBMISSIONS, prefix)
    submissions = one(documents, "KafkaTopic", named(SUBMISSIONS, prefix))
    partitions = submissions["spec"]["partitions"]
    assert (
        scaled["spec"]["maxReplicaCount"]
        == partitions
        == int(settings["REGSOSEK_TOPIC_PARTITIONS"])
    )
    auth = one(documents, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    users = {u["metadata"]["name"] for u in of_kind(documents, "KafkaUser")}
    password = next(r for r in auth["spec"]["secretTargetRef"] if r["parameter"] == "password")
    assert password["name"] in users  # the User Operator's Secret of that user


def test_topics_are_replicated_three_times_with_two_in_sync(
    overlay: tuple[str, list[Doc]],
) -> None:
    _, documents = overlay
    topics = of_kind(documents, "KafkaTopic")
    assert len(topics) == 5
    partitions = int(settings_map(documents)["REGSOSEK_TOPIC_PARTITIONS"])
    for topic in topics:
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == "2"
        assert topic["spec"]["partitions"] == partitions
    (kafka,) = of_kind(documents, "Kafka")
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    brokers = [p for p in of_kind(documents, "KafkaNodePool") if "broker" in p["spec"]["roles"]]
    assert sum(p["spec"]["replicas"] for p in brokers) >= 3


def test_the_prometheus_rule_is_the_alert_rule_file(overlay: tuple[str, list[Doc]]) -> None:
    _, documents = overlay
    (rule,) = of_kind(documents, "PrometheusRule")
    source = yaml.safe_load((ROOT / "monitoring" / "alerts" / "regsosek.yml").read_text())
    assert rule["spec"]["groups"] == source["groups"]
    dashboards = {
        name: json.loads(text)
        for d in of_kind(documents, "ConfigMap")
        if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for name, text in d["data"].items()
    }
    assert dashboards == {
        p.name: json.loads(p.read_text())
        for p in (ROOT / "monitoring" / "dashboards").glob("*.json")
    }


def test_every_regsosek_variable_is_a_real_setting(overlay: tuple[str, list[Doc]]) -> None:
    _, documents = overlay
    settings = settings_map(documents)
    for name, spec in pod_specs(documents):
        for container in spec["containers"]:
            env = {e["name"]: "x" for e in container.get("env", [])}
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"].startswith("regsosek-settings-"), name
                env.update(settings)
            assert all(key.startswith("REGSOSEK_") for key in env), name
            assert unknown_variables(env, Settings.model_fields) == [], name
            fields = {key.removeprefix("REGSOSEK_").lower() for key in env}
            assert fields <= set(Settings.model_fields), name


def test_no_secret_value_is_in_the_manifests_and_every_secret_is_documented(
    overlay: tuple[str, list[Doc]],
) -> None:
    _, documents = overlay
    assert of_kind(documents, "Secret") == []
    referenced = set()
    for _, spec in pod_specs(documents):
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                referenced.add(volume["secret"]["secretName"])
        for container in spec["containers"]:
            for env in container.get("env", []):
                if "valueFrom" in env:
                    referenced.add(env["valueFrom"]["secretKeyRef"]["name"])
    for auth in of_kind(documents, "TriggerAuthentication"):
        referenced |= {r["name"] for r in auth["spec"]["secretTargetRef"]}
    (chi,) = of_kind(documents, "ClickHouseInstallation")
    for key, value in chi["spec"]["configuration"]["users"].items():
        if "k8s_secret" in key:
            referenced.add(value.split("/")[0])
    guide = (ROOT / "docs" / "kubernetes.md").read_text()
    assert referenced and sorted(s for s in referenced if f"`{s}`" not in guide) == []


def test_every_platform_pod_is_fenced_and_hardened(overlay: tuple[str, list[Doc]]) -> None:
    _, documents = overlay
    fenced = set()
    for policy in of_kind(documents, "NetworkPolicy"):
        selector = policy["spec"]["podSelector"]
        fenced |= set(selector.get("matchLabels", {}).values())
        for expression in selector.get("matchExpressions", []):
            fenced |= set(expression["values"])
    for name, spec in pod_specs(documents):
        assert name in fenced
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["image"].startswith("registry.invalid/regsosek-streaming:")
