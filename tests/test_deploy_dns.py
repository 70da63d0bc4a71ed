"""PowerDNS in Kubernetes (issue #19), offline: the built overlays run PowerDNS with its API key from a
Secret, the domains service is pointed at it (PDNS_API_URL in panel-config, PDNS_API_KEY from the same
Secret), and the NetworkPolicies let DNS in from anywhere and PowerDNS's API in from the domains pods only."""

from __future__ import annotations

import pytest

from tests.test_deploy import OVERLAYS, _allowed, by_kind, kustomize_build, network

INTEGRATION = True  # builds the overlays with kubectl (subprocesses), like tests/test_deploy.py


def _powerdns(docs) -> dict:
    return by_kind(docs, "Deployment")["powerdns"]


def _env(container: dict) -> dict[str, dict]:
    return {v["name"]: v for v in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_powerdns_runs_with_its_api_key_from_a_secret_on_a_volume_of_its_own(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    deployment = _powerdns(docs)
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"])
    assert args["launch"] == "gsqlite3" and args["api"] == "yes" and args["webserver-port"] == "8081"
    assert args["api-key"] == "$(PDNS_API_KEY)"
    assert _env(container)["PDNS_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "pdns-api", "key": "api-key"}
    assert not container["image"].endswith(":latest") and ":" in container["image"], "a pinned PowerDNS image"
    ports = {(p["containerPort"], p["protocol"]) for p in container["ports"]}
    assert {(5300, "UDP"), (5300, "TCP"), (8081, "TCP")} == ports and args["local-port"] == "5300"
    claim = next(v for v in spec["volumes"] if v["name"] == "data")["persistentVolumeClaim"]["claimName"]
    assert claim in by_kind(docs, "PersistentVolumeClaim")
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/var/lib/powerdns"}
    assert "readinessProbe" in container and "livenessProbe" in container
    services = by_kind(docs, "Service")
    assert {p["port"] for p in services["powerdns"]["spec"]["ports"]} == {8081, 53}
    assert services["powerdns-public"]["spec"]["type"] == "LoadBalancer"
    assert {(p["port"], p["protocol"]) for p in services["powerdns-public"]["spec"]["ports"]} == {
        (53, "UDP"),
        (53, "TCP"),
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_domains_service_is_pointed_at_powerdns(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    config = next(c for n, c in by_kind(docs, "ConfigMap").items() if n.startswith("panel-config"))
    assert config["data"]["PDNS_API_URL"] == "http://powerdns:8081"
    domains = by_kind(docs, "Deployment")["domains"]["spec"]["template"]["spec"]["containers"][0]
    assert _env(domains)["PDNS_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "pdns-api", "key": "api-key"}
    assert "PDNS_API_KEY" not in config["data"], "the key is a secret, not a setting"


def test_development_has_the_pdns_secret_and_production_creates_it_out_of_band():
    development = by_kind(kustomize_build("overlays/development"), "Secret")
    assert set(development["pdns-api"]["data"]) == {"api-key"}
    assert "pdns-api" not in by_kind(kustomize_build("overlays/production"), "Secret")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dns_comes_in_from_anywhere_and_the_api_from_the_domains_pods_only(overlay):
    namespace, policies, pods = network(overlay)
    powerdns = pods["powerdns"]

    def allowed(source: str, port: int, protocol: str = "TCP") -> bool:
        return _allowed(policies, namespace, pods[source], powerdns, port, protocol)

    assert allowed("domains", 8081)
    for other in ("gateway", "billing", "accounts", "intruder", "ingress-controller", "elsewhere", "internet"):
        assert not allowed(other, 8081), f"{other} reaches PowerDNS's API"
    for anyone in ("internet", "elsewhere", "ingress-controller"):  # resolvers out there
        assert allowed(anyone, 5300, "UDP") and allowed(anyone, 5300, "TCP"), f"{anyone} cannot ask PowerDNS"
    for inside in ("gateway", "intruder", "billing"):  # the namespace's own pods keep their closed egress
        assert not allowed(inside, 5300, "UDP"), f"{inside} got a way out to PowerDNS"
    assert not allowed("internet", 8081) and not allowed("domains", 5432)
    # PowerDNS itself reaches nothing but the cluster's DNS (no broker, no database, nothing outside)
    for destination, port in (("rabbitmq", 5671), ("mongo", 27017), ("internet", 443), ("domains", 8081)):
        assert not _allowed(policies, namespace, powerdns, pods[destination], port, "TCP"), destination
    assert _allowed(policies, namespace, powerdns, pods["kube-dns"], 53, "UDP")
