"""JSON schemas for validating deploy/k8s offline with kubeconform, prepared once into the cache.

kubeconform checks each rendered document against a JSON schema looked up by
kind and apiVersion; without one it fails the document (we never pass
``-ignore-missing-schemas``). Where each schema comes from, all through the
registries' ordinary clients and nothing committed that came from elsewhere:

* **built-in kinds** (Deployment, Service, HPA, NetworkPolicy, ...): the
  ``kubernetes-validate`` wheel from the lock bundles the strict schemas of
  each Kubernetes release. Their ``$ref`` s point at ``/api/_definitions.json``
  under an ``$id`` on kubernetes.io, which kubeconform cannot load offline, so
  the copy here drops ``$id`` and makes the references relative.
* **Prometheus Operator and KEDA** CRDs: the YAML in their Go modules
  (``go mod download``, checked against the Go checksum database), converted
  as kubeconform's ``openapi2jsonschema`` does: one schema per served version,
  ``additionalProperties: false`` on every object with properties unless the
  CRD says ``x-kubernetes-preserve-unknown-fields``.
* **Strimzi**: no registry reachable here serves its CRDs. The npm package
  ``@kubernetes-models/strimzi-kafka-operator`` (generated from Strimzi's CRDs)
  ships TypeScript declarations of every kind; ``ts-json-schema-generator``
  (npm) turns them into JSON schemas that refuse unknown properties.
* **Altinity** (ClickHouseInstallation, ClickHouseKeeperInstallation): not
  served by any registry reachable here; deploy/k8s/schemas/ holds our own
  schemas of the fields we use (committed, with a header saying so).

Run ``python -m tests.k8s_schemas`` (``make setup`` does) to prepare the cache;
the integration test calls :func:`ensure_schemas` too, which is instant once done.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Kubernetes release whose built-in schemas the manifests are checked against.
KUBERNETES_VERSION = "1.33.0"
KUBECONFORM_MODULE = "github.com/yannh/kubeconform/cmd/kubeconform"
KUBECONFORM_VERSION = "v0.8.0"
#: Go modules holding CRD YAML: (module, version, directory of the CRDs in the module zip).
GO_CRD_MODULES = (
    (
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        "example/prometheus-operator-crd/",
    ),
    ("github.com/kedacore/keda/v2", "v2.21.1", "config/crd/bases/"),
)
STRIMZI_MODELS = "@kubernetes-models/strimzi-kafka-operator@1.0.1"
TS_SCHEMA_GENERATOR = "ts-json-schema-generator@2.4.0"
#: Strimzi kinds the manifests use, at kafka.strimzi.io/v1 (Strimzi 0.49 and later).
STRIMZI_KINDS = ("Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser")
STRIMZI_GROUP = "kafka.strimzi.io"
STRIMZI_VERSION = "v1"
#: Our own schemas (Altinity's kinds), in kubeconform's CRD layout.
OWN_SCHEMAS = ROOT / "deploy" / "k8s" / "schemas"
#: Bump to rebuild every cache made by an older version of this module.
LAYOUT = "2"


class _CrdLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading ``=`` as the string it is in CRDs (YAML 1.1 says "value")."""


def _value_as_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_CrdLoader.add_constructor("tag:yaml.org,2002:value", _value_as_string)


class SchemaSetupError(RuntimeError):
    """A schema source could not be fetched or converted; the message says what to run."""


@dataclass(frozen=True)
class SchemaCatalog:
    """Where kubeconform finds each schema: built-in kinds, fetched CRDs, our own CRDs."""

    kubernetes: Path
    crds: Path
    own: Path = OWN_SCHEMAS

    def locations(self) -> list[str]:
        """The ``-schema-location`` templates of kubeconform, tried in this order."""
        crd = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
        return [
            f"{self.kubernetes}/{{{{.ResourceKind}}}}{{{{.KindSuffix}}}}.json",
            f"{self.crds}/{crd}",
            f"{self.own}/{crd}",
        ]


# --- pure conversions ----------------------------------------------------------------


def strict_schema(schema: Any) -> Any:
    """A CRD's openAPIV3Schema with unknown fields refused, as openapi2jsonschema -strict.

    An object that lists ``properties`` and says nothing of ``additionalProperties``
    gets ``false``; one marked ``x-kubernetes-preserve-unknown-fields`` keeps
    whatever it is given (a Prometheus rule's labels, a KEDA trigger's metadata).
    """
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: strict_schema(value) for key, value in schema.items()}
    if (
        "properties" in converted
        and "additionalProperties" not in converted
        and not converted.get("x-kubernetes-preserve-unknown-fields")
    ):
        converted["additionalProperties"] = False
    return converted


def crd_schemas(crd: Mapping[str, Any]) -> dict[str, Any]:
    """``{group}/{kind}_{version}.json`` -> JSON schema, for every version of one CRD."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"].lower()
    found = {}
    for version in spec["versions"]:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is not None:
            found[f"{group}/{kind}_{version['name']}.json"] = strict_schema(schema)
    return found


def offline_builtin(schema: Any) -> Any:
    """A kubernetes-validate schema whose references resolve beside it, not on kubernetes.io."""
    if isinstance(schema, list):
        return [offline_builtin(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: offline_builtin(value) for key, value in schema.items() if key != "$id"}
    ref = converted.get("$ref")
    if isinstance(ref, str) and ref.startswith("/api/"):
        converted["$ref"] = ref.removeprefix("/api/")
    return converted


def open_free_form(schema: Any) -> Any:
    """ts-json-schema-generator's schema with the CRD's free-form objects open again.

    The generator closes every object (``additionalProperties: false``), which is
    what the CRD says for each one with properties. An object the CRD marks
    ``x-kubernetes-preserve-unknown-fields`` (a topic's or broker's ``config``)
    is declared ``{}`` in TypeScript, so it arrives closed and without
    properties: such an object is opened here, or no config would be accepted.
    """
    if isinstance(schema, list):
        return [open_free_form(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: open_free_form(value) for key, value in schema.items()}
    if (
        converted.get("type") == "object"
        and converted.get("additionalProperties") is False
        and not converted.get("properties")
        and not converted.get("patternProperties")
    ):
        del converted["additionalProperties"]
    return converted


def strimzi_schema(generated: Mapping[str, Any]) -> dict[str, Any]:
    """ts-json-schema-generator's output for one Strimzi kind, as kubeconform reads it."""
    schema: dict[str, Any] = open_free_form(dict(generated))
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return schema


# --- I/O ----------------------------------------------------------------------------


def cache_root() -> Path:
    """The project's download cache (REGSOSEK_CACHE_DIR, else ~/.cache/regsosek)."""
    configured = os.environ.get("REGSOSEK_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "regsosek"


def catalog_dir(root: Path | None = None) -> Path:
    """One directory per set of pinned versions, so a bump never mixes old and new schemas."""
    pins = "-".join(
        [f"k8s{KUBERNETES_VERSION}"]
        + [version for _, version, _ in GO_CRD_MODULES]
        + [STRIMZI_MODELS.rsplit("@", 1)[1], f"l{LAYOUT}"]
    )
    return (root or cache_root()) / "k8s-schemas" / pins


def ensure_schemas(root: Path | None = None) -> SchemaCatalog:
    """The schema catalog, prepared first if this cache does not hold it yet. Idempotent."""
    where = catalog_dir(root)
    catalog = SchemaCatalog(kubernetes=where / "kubernetes", crds=where / "crds")
    if (where / "complete").exists():
        return catalog
    where.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=where.parent))
    try:
        _write_builtins(work / "kubernetes")
        crds = work / "crds"
        for module, version, directory in GO_CRD_MODULES:
            for name, schema in _go_module_crds(module, version, directory):
                _write_json(crds / name, schema)
        for name, schema in _strimzi_schemas():
            _write_json(crds / name, schema)
        (work / "complete").write_text("ok\n")
        shutil.rmtree(where, ignore_errors=True)
        work.rename(where)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return catalog


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _write_builtins(target: Path) -> None:
    spec = find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise SchemaSetupError(
            "kubernetes-validate is not installed: run `make setup` (it is in requirements.lock)"
        )
    source = (
        Path(spec.origin).parent / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}-local-strict"
    )
    if not source.is_dir():
        raise SchemaSetupError(f"kubernetes-validate has no schemas for {KUBERNETES_VERSION}")
    for path in source.glob("*.json"):
        _write_json(target / path.name, offline_builtin(json.loads(path.read_text())))


def _tool(name: str, how: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SchemaSetupError(f"`{name}` is not installed; {how}")
    return found


def _go_module_crds(module: str, version: str, directory: str) -> Iterator[tuple[str, Any]]:
    """The CRD schemas of one Go module's zip (from the Go module proxy, checksum-verified).

    ``go mod download`` may refuse a module whose go.mod wants a newer Go than
    the machine's (KEDA 2.21 wants 1.27) after downloading and verifying its zip:
    the zip is what is read, so that refusal is not an error here.
    """
    go = _tool("go", "install it: `apt-get install -y golang-go` (Go 1.22 or later)")
    with tempfile.TemporaryDirectory() as scratch:
        answer = subprocess.run(
            [go, "mod", "download", "-json", f"{module}@{version}"],
            cwd=scratch,
            env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"},
            capture_output=True,
            text=True,
            check=False,
        )
    try:
        zip_path = Path(json.loads(answer.stdout)["Zip"])
    except (ValueError, KeyError) as exc:
        raise SchemaSetupError(
            f"`go mod download -json {module}@{version}` gave no zip: "
            f"{answer.stderr.strip() or answer.stdout.strip()}"
        ) from exc
    prefix = f"{module}@{version}/{directory}"
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(
            n for n in archive.namelist() if n.startswith(prefix) and n.endswith(".yaml")
        )
        if not names:
            raise SchemaSetupError(f"no CRDs under {directory} in {zip_path}")
        for name in names:
            for document in yaml.load_all(archive.read(name), Loader=_CrdLoader):
                if (
                    isinstance(document, dict)
                    and document.get("kind") == "CustomResourceDefinition"
                ):
                    yield from crd_schemas(document).items()


def _strimzi_schemas() -> Iterator[tuple[str, Any]]:
    """Strimzi's kinds from the npm models' TypeScript declarations (see the module doc)."""
    npm = _tool("npm", "install Node.js and npm: `apt-get install -y nodejs npm`")
    node = _tool("node", "install Node.js: `apt-get install -y nodejs`")
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        (project / "package.json").write_text('{"private": true}\n')
        _run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--silent",
                STRIMZI_MODELS,
                TS_SCHEMA_GENERATOR,
            ],
            project,
        )
        modules = project / "node_modules"
        generator = modules / "ts-json-schema-generator" / "dist" / "ts-json-schema-generator.js"
        declarations = modules / "@kubernetes-models" / "strimzi-kafka-operator" / STRIMZI_GROUP
        for kind in STRIMZI_KINDS:
            out = project / f"{kind}.json"
            _run(
                [
                    node,
                    str(generator),
                    "--path",
                    str(declarations / STRIMZI_VERSION / f"{kind}.d.ts"),
                    "--type",
                    f"I{kind}",
                    "--no-type-check",
                    "--out",
                    str(out),
                ],
                project,
            )
            schema = strimzi_schema(json.loads(out.read_text()))
            yield f"{STRIMZI_GROUP}/{kind.lower()}_{STRIMZI_VERSION}.json", schema


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SchemaSetupError(f"`{' '.join(command)}` failed: {done.stderr.strip()[-2000:]}")


def kubeconform_binary() -> Path:
    """The kubeconform binary: the venv's (``make setup`` installs it there), else PATH's."""
    beside = Path(sys.executable).parent / "kubeconform"
    if beside.exists():
        return beside
    found = shutil.which("kubeconform")
    if found:
        return Path(found)
    raise SchemaSetupError(
        "kubeconform is not installed: run `make setup`, or "
        f"`GOBIN={beside.parent} GOTOOLCHAIN=local go install "
        f"{KUBECONFORM_MODULE}@{KUBECONFORM_VERSION}`"
    )


def kinds_in(catalog: SchemaCatalog) -> Iterable[Path]:
    """Every CRD schema file of the catalog (fetched and our own), for reports."""
    yield from sorted(catalog.crds.rglob("*.json"))
    yield from sorted(catalog.own.rglob("*.json"))


def main() -> int:
    """``python -m tests.k8s_schemas``: prepare the cache, say where it is."""
    try:
        catalog = ensure_schemas()
    except SchemaSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"k8s schemas: {catalog.kubernetes.parent} ({len(list(kinds_in(catalog)))} CRD schemas)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
