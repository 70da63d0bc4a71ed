"""Stripe in the deployment (issue #15), offline: production takes cards through Stripe with its keys
from the Secret `stripe` (created out of band, never committed), development keeps the sandbox, and
only billing may leave the cluster, to HTTPS, for Stripe's API."""

from __future__ import annotations

import pytest

from tests.test_deploy import OVERLAYS, _allowed, _secret_keys, by_kind, kustomize_build, network

INTEGRATION = True  # builds the overlays with kubectl (subprocesses), like tests/test_deploy.py
KEYS = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")


def _config(docs) -> dict[str, str]:
    return next(c for n, c in by_kind(docs, "ConfigMap").items() if n.startswith("panel-config"))["data"]


def _billing_env(docs) -> dict[str, dict]:
    container = by_kind(docs, "Deployment")["billing"]["spec"]["template"]["spec"]["containers"][0]
    return {v["name"]: v for v in container.get("env", [])}


@pytest.mark.parametrize(("overlay", "provider"), [("production", "stripe"), ("development", "sandbox")])
def test_the_overlay_chooses_its_payment_provider(overlay, provider):
    config = _config(kustomize_build(f"overlays/{overlay}"))
    assert config["PAYMENT_PROVIDER"] == provider
    assert [int(d) for d in config["PAYMENT_RETRY_DAYS"].split(",")] == [1, 3, 5]
    assert not set(KEYS) & set(config), "Stripe's keys are secrets, not settings"
    assert "STRIPE_API_BASE" not in config, "production talks to Stripe itself (empty STRIPE_API_BASE)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_billing_reads_the_stripe_keys_from_the_stripe_secret(overlay):
    docs = kustomize_build(f"overlays/{overlay}")
    env = _billing_env(docs)
    for key in KEYS:
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "stripe", "key": key}
    assert set(KEYS) <= _secret_keys(docs)["stripe"]
    for name in ("gateway", "accounts", "domains", "support", "notifications"):
        container = by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        assert not set(KEYS) & {v["name"] for v in container.get("env", [])}, f"{name} gets no Stripe key"


def test_production_commits_no_stripe_secret_and_development_only_test_values():
    assert "stripe" not in by_kind(kustomize_build("overlays/production"), "Secret")
    development = by_kind(kustomize_build("overlays/development"), "Secret")["stripe"]
    assert set(development["data"]) == set(KEYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_billing_reaches_https_outside_the_cluster_and_only_in_production(overlay):
    namespace, policies, pods = network(overlay)
    reach = {name for name, pod in pods.items() if pod["namespace"] == namespace and name != "intruder"
             and _allowed(policies, namespace, pod, pods["internet"], 443, "TCP")}  # fmt: skip
    assert reach == ({"billing"} if overlay == "production" else set())
    if overlay == "production":
        assert not _allowed(policies, namespace, pods["billing"], pods["internet"], 80, "TCP"), "HTTPS only"
        [policy] = [p for p in policies if p["metadata"]["name"] == "billing-stripe"]
        block = policy["spec"]["egress"][0]["to"][0]["ipBlock"]
        assert block["cidr"] == "0.0.0.0/0" and {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(
            block["except"]
        ), "not into the cluster's own private networks"
