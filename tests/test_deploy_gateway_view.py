"""The gateway's view and live-stream processes in Kubernetes (issue #17), offline: the built overlays run
gateway-view (`python -m gateway.readmodel`) and gateway-live (gateway/live_asgi.py on gunicorn's ASGI worker)
like the other workloads (probes, resources, non-root, disruption budgets); the gateway's three processes get
one database user of their own, readWrite on `${DB_PREFIX}gateway` only; the NetworkPolicies let them reach
the broker and the database and let the ingress controller reach gateway-live; production's ingress sends
/live/events to gateway-live without buffering and with a read timeout longer than a stream lives."""

from __future__ import annotations

import re

import pytest

from gateway import live
from tests.test_deploy import (
    K8S,
    OVERLAYS,
    ROOT,
    _allowed,
    _permitted,
    _secret_keys,
    by_kind,
    k8s_broker_permissions,
    kustomize_build,
    network,
)

INTEGRATION = True  # builds the overlays with kubectl (subprocesses), like tests/test_deploy.py
GATEWAY_PROCESSES = ("gateway", "gateway-view", "gateway-live")
VIEW_HEALTH = ["python", "-m", "gateway.readmodel", "health"]


def _container(docs, name: str) -> dict:
    return by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict) -> dict[str, dict]:
    return {v["name"]: v for v in container.get("env", [])}


def _secret_of(container: dict, variable: str) -> str:
    return _env(container)[variable]["valueFrom"]["secretKeyRef"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_view_and_live_processes_run_the_gateway_code_with_probes_and_resources(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    view, live_process = _container(docs, "gateway-view"), _container(docs, "gateway-live")
    assert view["command"] == ["python", "-m", "gateway.readmodel"]
    assert (ROOT / "gateway" / "readmodel" / "__main__.py").is_file()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert view[probe]["exec"]["command"] == VIEW_HEALTH, probe
        assert view[probe]["timeoutSeconds"] >= 5, f"{probe}: a Python start and one query need more than 1 s"
    command = live_process["command"]
    assert command[:3] == ["gunicorn", "-c", "gateway/gunicorn_live.py"] and command[-1] == "gateway.live_asgi:app"
    assert (ROOT / "gateway" / "gunicorn_live.py").is_file() and (ROOT / "gateway" / "live_asgi.py").is_file()
    bind = command[command.index("--bind") + 1]
    port = next(p for p in live_process["ports"] if p["name"] == "http")["containerPort"]
    assert bind == f"0.0.0.0:{port}", "gunicorn_live binds 127.0.0.1 unless told: the pod must listen on its port"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert live_process[probe]["tcpSocket"]["port"] == "http", f"{probe}: it answers 404/401 to any GET"
    for container in (view, live_process):
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_view_and_live_pods_are_locked_down_like_the_gateway(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    deployments = by_kind(docs, "Deployment")
    for name in ("gateway-view", "gateway-live"):
        spec = deployments[name]["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        context = spec["containers"][0]["securityContext"]
        assert context == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                           "capabilities": {"drop": ["ALL"]}}, name  # fmt: skip
        assert deployments[name]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_live_has_a_service_an_autoscaler_and_both_a_disruption_budget(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    deployments, pdbs = by_kind(docs, "Deployment"), by_kind(docs, "PodDisruptionBudget")
    for name in ("gateway-view", "gateway-live"):
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs.values() if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1 and covering[0]["spec"]["maxUnavailable"] == 1, name
    assert deployments["gateway-view"]["spec"]["replicas"] >= 2, "one replica lost leaves the other consuming"
    service = by_kind(docs, "Service")["gateway-live"]
    labels = deployments["gateway-live"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert "gateway-view" not in by_kind(docs, "Service"), "nothing connects to the view process"
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["gateway-live"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway-live"
    assert "replicas" not in deployments["gateway-live"]["spec"], "replicas would fight the HPA"


def test_live_pods_drain_within_their_grace_period():
    graceful = int(re.search(r"^graceful_timeout\s*=\s*(\d+)", (ROOT / "gateway" / "gunicorn_live.py").read_text(),
                             re.M).group(1))  # fmt: skip
    for overlay in OVERLAYS:
        spec = by_kind(kustomize_build(f"overlays/{overlay}"), "Deployment")["gateway-live"]["spec"]["template"]["spec"]
        pause = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert spec["terminationGracePeriodSeconds"] - pause >= graceful + 5


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_processes_share_one_database_user_and_the_gateway_broker_user(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    for name in GATEWAY_PROCESSES:
        container = _container(docs, name)
        env = _env(container)
        uri = env["MONGO_URI"]["value"]
        assert uri.startswith("mongodb://$(MONGO_USERNAME):$(MONGO_PASSWORD)@mongo-0.mongo:27017,"), (name, uri)
        assert "replicaSet=rs0" in uri and "tls=true&tlsCAFile=/etc/panel-ca/ca.crt" in uri, (name, uri)
        assert (
            _secret_of(container, "MONGO_USERNAME")
            == _secret_of(container, "MONGO_PASSWORD")
            == ("mongodb-user-gateway")
        )
        assert _secret_of(container, "RABBITMQ_USERNAME") == "rabbitmq-user-gateway", name
        assert env["AMQP_URI"]["value"].startswith("amqps://$(RABBITMQ_USERNAME):$(RABBITMQ_PASSWORD)@rabbitmq:5671")
        assert _secret_of(container, "RPC_SIGNING_KEYS") == "panel-secrets", f"{name} signs its RPCs"
        assert {"configMapRef": {"name": next(n for n in by_kind(docs, "ConfigMap") if n.startswith("panel-config"))}
                } in container["envFrom"], f"{name}: DB_PREFIX and the queue type come from panel-config"  # fmt: skip
    assert _secret_of(_container(docs, "gateway-live"), "SECRET_KEY") == "panel-secrets", "it reads the cookie"
    assert "SECRET_KEY" not in _env(_container(docs, "gateway-view")), "the view signs no session"
    if overlay == "development":  # production creates it out of band (deploy/README.md)
        assert _secret_keys(docs)["mongodb-user-gateway"] == {"username", "password"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mongo_init_creates_the_gateway_user_on_its_own_database_only(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    container = by_kind(docs, "Job")["mongo-init"]["spec"]["template"]["spec"]["containers"][0]
    for key in ("username", "password"):
        ref = _env(container)[f"MONGO_GATEWAY_{key.upper()}"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "mongodb-user-gateway", "key": key}
    script = (K8S / "base" / "init-replica-set.js").read_text()
    assert '"gateway"]' in re.search(r"const services = \[.*?\];", script).group(0)
    # the one grant of the loop, applied to "gateway": readWrite on ${DB_PREFIX}gateway, where readmodel.database()
    # reads (settings.database_name("gateway"))
    assert re.findall(r"role: \"(\w+)\", db: `([^`]+)`", script) == [("readWrite", "${env.DB_PREFIX}${service}")]
    assert 'database_name("gateway")' in (ROOT / "gateway" / "readmodel" / "__init__.py").read_text()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_broker_user_may_consume_the_view_queue_and_every_events_exchange(overlay):
    gateway = k8s_broker_permissions(kustomize_build(f"overlays/{overlay}"))["gateway"]
    for right in ("configure", "write", "read"):
        assert _permitted(gateway, right, "gateway-view"), right
    for service in ("accounts", "billing", "domains", "support", "notifications", "hosting"):
        assert _permitted(gateway, "read", f"{service}.events")
    assert not _permitted(gateway, "configure", "gateway-view-2"), "exactly its queue"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_the_gateway_processes_reach_the_database_and_the_ingress_reach_live(overlay):
    namespace, policies, pods = network(overlay)

    def allowed(source: str, destination: str, port: int) -> bool:
        return _allowed(policies, namespace, pods[source], pods[destination], port, "TCP")

    for name in GATEWAY_PROCESSES:
        assert allowed(name, "mongo", 27017) and allowed(name, "rabbitmq", 5671), name
        assert not allowed(name, "rabbitmq", 5672) and not allowed(name, "internet", 443), name
    assert allowed("ingress-controller", "gateway-live", 8001)
    assert not allowed("ingress-controller", "gateway-live", 8000), "only its http port"
    for outsider in ("ingress-controller", "elsewhere", "intruder", "billing"):
        assert not allowed(outsider, "gateway-view", 8001) and not allowed(outsider, "gateway-view", 8000)
    for outsider in ("elsewhere", "intruder", "accounts", "internet"):
        assert not allowed(outsider, "gateway-live", 8001), outsider
    assert not allowed("gateway-view", "gateway", 8000) and not allowed("gateway-live", "accounts", 5671)


def _route(ingresses: dict[str, dict], host: str, path: str) -> tuple[str, dict]:
    """The Ingress and backend a request goes to (the API's rules: an Exact match first, then the longest
    Prefix match by path elements), over every Ingress of the class for the host."""
    candidates = []
    for name, ingress in ingresses.items():
        for rule in ingress["spec"]["rules"]:
            if rule["host"] != host:
                continue
            for entry in rule["http"]["paths"]:
                wanted = entry["path"]
                if entry["pathType"] == "Exact" and path == wanted:
                    candidates.append(((1, len(wanted)), name, entry["backend"]))
                elif entry["pathType"] == "Prefix" and (wanted == "/" or path == wanted
                                                        or path.startswith(wanted.rstrip("/") + "/")):  # fmt: skip
                    candidates.append(((0, len(wanted)), name, entry["backend"]))
    assert candidates, f"no Ingress serves {host}{path}"
    _, name, backend = max(candidates, key=lambda c: c[0])
    return name, backend


def test_production_ingress_sends_live_events_to_gateway_live_unbuffered():
    docs = kustomize_build("overlays/production")
    ingresses, services = by_kind(docs, "Ingress"), by_kind(docs, "Service")
    host = ingresses["gateway"]["spec"]["rules"][0]["host"]
    name, backend = _route(ingresses, host, "/live/events")
    assert backend["service"] == {"name": "gateway-live", "port": {"name": "http"}}
    assert "http" in {p["name"] for p in services["gateway-live"]["spec"]["ports"]}
    for other in ("/", "/live", "/live/events/x", "/billing/invoices"):
        assert _route(ingresses, host, other)[1]["service"]["name"] == "gateway", other
    ingress = ingresses[name]
    assert ingress["spec"]["ingressClassName"] == ingresses["gateway"]["spec"]["ingressClassName"]
    assert ingress["spec"]["tls"] == ingresses["gateway"]["spec"]["tls"], "the same host and certificate"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    read_timeout = int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
    assert read_timeout > live.STREAM_SECONDS and read_timeout > 3 * live.HEARTBEAT_SECONDS
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= read_timeout
    assert "proxy-buffering" not in str(ingresses["gateway"]["metadata"].get("annotations")), "pages stay buffered"
