"""Write our own JSON schemas of the Altinity kinds deploy/k8s uses (run once, then commit).

Not the operator's CRD: that is not served by any registry these machines reach
(Go module proxy, npm, PyPI), and it is not copied from anywhere. These schemas
are written here from the operator's documented API (custom_resource_explained)
and cover the fields our manifests use, refusing any other: a typo fails
kubeconform -strict. Kubernetes objects embedded in them (pod, volume claim and
service templates' ``spec``) are left to tests/integration/test_k8s_manifests.py,
which validates each against the built-in schemas. The authoritative check of
these two kinds is a real cluster's ``kubectl apply --dry-run=server``.

    .venv/bin/python deploy/k8s/schemas/make_own_schemas.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DRAFT = "http://json-schema.org/draft-07/schema#"
NOTE = (
    "Ours, not the operator's CRD (which no registry reachable offline serves): written "
    "from the Altinity operator's documented API, covering the fields deploy/k8s uses and "
    "refusing any other. Embedded pod/volume/service specs are validated separately "
    "against the built-in Kubernetes schemas. Authoritative check: kubectl apply "
    "--dry-run=server on a cluster with the operator. Regenerate: "
    "deploy/k8s/schemas/make_own_schemas.py."
)


def closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object with exactly these properties."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def array_of(items: dict[str, Any]) -> dict[str, Any]:
    """A list of ``items``."""
    return {"type": "array", "items": items}


STRING = {"type": "string"}
NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
COUNT = {"type": "integer", "minimum": 1}
SCALAR = {"type": ["string", "number", "boolean"]}
#: settings/users/profiles/quotas: "path/of/setting" -> value (a list for repeated tags).
SETTING_MAP = {
    "type": "object",
    "propertyNames": {"pattern": "^[A-Za-z0-9_.:-]+(/[A-Za-z0-9_.:-]+)*$"},
    "additionalProperties": {"anyOf": [SCALAR, array_of(SCALAR)]},
}
#: files: "config.d/x.xml" or "users.d/x.xml" (or a bare name: config.d) -> content.
FILE_MAP = {
    "type": "object",
    "propertyNames": {"pattern": "^((config\\.d|users\\.d|conf\\.d)/)?[A-Za-z0-9_.-]+$"},
    "additionalProperties": STRING,
}
OBJECT = {
    "type": "object",
    "description": "A Kubernetes object spec (validated against the built-in schemas apart).",
}
TEMPLATES = closed(
    {
        "podTemplates": array_of(
            closed(
                {
                    "name": NAME,
                    "generateName": STRING,
                    "metadata": {"type": "object"},
                    "spec": OBJECT,
                },
                ["name", "spec"],
            )
        ),
        "volumeClaimTemplates": array_of(
            closed(
                {
                    "name": NAME,
                    "reclaimPolicy": {"enum": ["Retain", "Delete"]},
                    "metadata": {"type": "object"},
                    "spec": OBJECT,
                },
                ["name", "spec"],
            )
        ),
        "serviceTemplates": array_of(
            closed(
                {
                    "name": NAME,
                    "generateName": STRING,
                    "metadata": {"type": "object"},
                    "spec": OBJECT,
                },
                ["name", "spec"],
            )
        ),
    }
)


def defaults(template_names: list[str]) -> dict[str, Any]:
    """``spec.defaults``: which named template each part uses."""
    return closed({"templates": closed({name: NAME for name in template_names})})


def document(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The whole resource's schema, with our note at the top."""
    return {
        "$schema": DRAFT,
        "$comment": NOTE,
        "description": f"{kind} ({api_version}), the subset deploy/k8s uses. {NOTE}",
        **closed(
            {
                "apiVersion": {"enum": [api_version]},
                "kind": {"enum": [kind]},
                "metadata": {"type": "object"},
                "spec": spec,
            },
            ["apiVersion", "kind", "metadata", "spec"],
        ),
    }


CHI = document(
    "clickhouse.altinity.com/v1",
    "ClickHouseInstallation",
    closed(
        {
            "defaults": defaults(
                [
                    "podTemplate",
                    "dataVolumeClaimTemplate",
                    "logVolumeClaimTemplate",
                    "serviceTemplate",
                ]
            ),
            "configuration": closed(
                {
                    "zookeeper": closed(
                        {
                            "nodes": array_of(
                                closed(
                                    {
                                        "host": STRING,
                                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                        "secure": {"type": ["boolean", "string"]},
                                    },
                                    ["host"],
                                )
                            ),
                            "root": STRING,
                            "session_timeout_ms": {"type": "integer"},
                            "operation_timeout_ms": {"type": "integer"},
                        },
                        ["nodes"],
                    ),
                    "clusters": array_of(
                        closed(
                            {
                                "name": NAME,
                                "layout": closed({"shardsCount": COUNT, "replicasCount": COUNT}),
                                "settings": SETTING_MAP,
                                "files": FILE_MAP,
                            },
                            ["name", "layout"],
                        )
                    ),
                    "settings": SETTING_MAP,
                    "users": SETTING_MAP,
                    "profiles": SETTING_MAP,
                    "quotas": SETTING_MAP,
                    "files": FILE_MAP,
                },
                ["clusters"],
            ),
            "templates": TEMPLATES,
            "stop": {"type": ["boolean", "string"]},
        },
        ["configuration"],
    ),
)

CHK = document(
    "clickhouse-keeper.altinity.com/v1",
    "ClickHouseKeeperInstallation",
    closed(
        {
            "defaults": defaults(["podTemplate", "dataVolumeClaimTemplate", "serviceTemplate"]),
            "configuration": closed(
                {
                    "clusters": array_of(
                        closed(
                            {"name": NAME, "layout": closed({"replicasCount": COUNT})},
                            ["name", "layout"],
                        )
                    ),
                    "settings": SETTING_MAP,
                    "files": FILE_MAP,
                },
                ["clusters"],
            ),
            "templates": TEMPLATES,
        },
        ["configuration"],
    ),
)


def main() -> None:
    """Write both schema files beside this script."""
    for path, schema in (
        (HERE / "clickhouse.altinity.com" / "clickhouseinstallation_v1.json", CHI),
        (HERE / "clickhouse-keeper.altinity.com" / "clickhousekeeperinstallation_v1.json", CHK),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2) + "\n")
        print(f"wrote {path.relative_to(HERE.parents[2])}")


if __name__ == "__main__":
    main()
