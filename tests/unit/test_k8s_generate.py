"""deploy/k8s's generated files equal a fresh generation; the schema conversions are right.

A change to the alert rules, a dashboard, the topics, the ACLs or the analyst
role without ``regsosek k8s generate`` fails here, so the Kubernetes manifests
never drift from what compose and the local broker use.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import yaml

from streams import k8s
from streams.local_kafka_secure import desired_acls
from tests.k8s_schemas import crd_schemas, offline_builtin, open_free_form, strict_schema

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_files_equal_a_fresh_generation() -> None:
    assert k8s.stale_files(ROOT) == [], "run `regsosek k8s generate` and commit the result"


def test_a_changed_source_makes_its_generated_file_stale(tmp_path: Path) -> None:
    """The drift check is not vacuous: an edited alert rule is named, nothing else."""
    for source in (k8s.ALERT_RULES, k8s.DASHBOARDS, k8s.CLICKHOUSE_ROLES, k8s.K8S_DIR):
        target = tmp_path / source
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy
        copy(ROOT / source, target)
    assert k8s.stale_files(tmp_path) == []
    rules = tmp_path / k8s.ALERT_RULES
    rules.write_text(rules.read_text().replace("for: 2m", "for: 3m", 1))
    assert k8s.stale_files(tmp_path) == [k8s.K8S_DIR / "monitoring/generated/prometheus-rule.yaml"]
    assert k8s.write_files(tmp_path) == [k8s.K8S_DIR / "monitoring/generated/prometheus-rule.yaml"]
    assert k8s.stale_files(tmp_path) == []


def test_the_prometheus_rule_holds_the_alert_groups_unchanged() -> None:
    text = (ROOT / k8s.ALERT_RULES).read_text()
    rule = k8s.prometheus_rule(text)
    assert rule["spec"]["groups"] == yaml.safe_load(text)["groups"]
    assert rule["kind"] == "PrometheusRule"


def test_dashboards_keep_their_json_text() -> None:
    path = ROOT / k8s.DASHBOARDS / "pipeline-health.json"
    configmap = k8s.dashboard_configmap(path.name, path.read_text())
    assert configmap["data"] == {path.name: path.read_text()}
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    # and the YAML file carries the same text back
    (loaded,) = yaml.safe_load_all(k8s.dump([configmap], []))
    assert loaded["data"][path.name] == path.read_text()


def test_topics_are_replicated_three_times_with_two_in_sync() -> None:
    topics = k8s.kafka_topics()
    assert {t["spec"]["topicName"] for t in topics} == {
        "regsosek.submissions", "regsosek.enumerator-events", "regsosek.submissions.valid",
        "regsosek.submissions.rejected", "regsosek.reviews",
    }  # fmt: skip
    for topic in topics:
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == "2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == k8s.KAFKA_CLUSTER


def test_kafka_users_carry_exactly_the_acls_of_the_secure_broker() -> None:
    users = {u["metadata"]["name"]: u for u in k8s.kafka_users()}
    assert set(users) == {"field", "worker", k8s.LAG_READER}
    back = {
        (name, acl["resource"]["type"].upper(), acl["resource"]["name"],
         {"literal": "LITERAL", "prefix": "PREFIXED"}[acl["resource"]["patternType"]],
         operation.upper())
        for name, user in users.items()
        for acl in user["spec"]["authorization"]["acls"]
        for operation in acl["operations"]
    }  # fmt: skip
    expected = {
        (r.principal, r.resource, r.name, r.pattern, r.operation)
        for r in [*desired_acls("regsosek"), *k8s.lag_reader_acls()]
    }
    assert back == expected
    lag = users[k8s.LAG_READER]["spec"]["authorization"]["acls"]
    assert {op for acl in lag for op in acl["operations"]} == {"Describe"}


def test_crd_conversion_refuses_unknown_fields_unless_the_crd_preserves_them() -> None:
    crd = {
        "spec": {
            "group": "example.io",
            "names": {"kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "labels": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "free": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                            "properties": {"a": {"type": "string"}},
                                        },
                                    },
                                }
                            },
                        }
                    },
                },
                {"name": "v1beta1"},
            ],
        }
    }
    schemas = crd_schemas(crd)
    assert list(schemas) == ["example.io/thing_v1.json"]
    spec = schemas["example.io/thing_v1.json"]["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in spec["properties"]["free"]
    assert strict_schema({"type": "string"}) == {"type": "string"}


def test_strimzi_free_form_maps_are_opened_and_closed_objects_stay_closed() -> None:
    generated = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "config": {"type": "object", "additionalProperties": False},
            "listener": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"port": {"type": "number"}},
            },
        },
    }
    opened = open_free_form(generated)
    assert opened["additionalProperties"] is False
    assert opened["properties"]["config"] == {"type": "object"}
    assert opened["properties"]["listener"]["additionalProperties"] is False


def test_builtin_schemas_resolve_beside_themselves() -> None:
    schema = {
        "$id": "https://kubernetes.io/api/deployment/apps/v1",
        "properties": {
            "spec": {"$ref": "/api/_definitions.json#/$defs/io.k8s.api.apps.v1.DeploymentSpec"}
        },
    }
    assert offline_builtin(schema) == {
        "properties": {
            "spec": {"$ref": "_definitions.json#/$defs/io.k8s.api.apps.v1.DeploymentSpec"}
        }
    }


def test_our_altinity_schemas_equal_their_generator() -> None:
    script = ROOT / "deploy/k8s/schemas/make_own_schemas.py"
    spec = importlib.util.spec_from_file_location("make_own_schemas", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = {
        "clickhouse.altinity.com/clickhouseinstallation_v1.json": module.CHI,
        "clickhouse-keeper.altinity.com/clickhousekeeperinstallation_v1.json": module.CHK,
    }
    for name, schema in committed.items():
        assert json.loads((script.parent / name).read_text()) == schema
        assert "Ours, not the operator's CRD" in schema["$comment"]
