"""The dashboard baseline: the gateway's own app (same gunicorn config) rendering the same template from ONE
document read from the same database per request (`bench_baseline` in BENCH_BASELINE_DB: the page's `d` and
the account its base template shows)."""

from __future__ import annotations

import os

import pymongo
from flask import g, render_template

from gateway.app import create_app

app = create_app()
_collection = pymongo.MongoClient(os.environ["MONGO_URI"])[os.environ["BENCH_BASELINE_DB"]]["bench_baseline"]


def baseline() -> str:
    doc = _collection.find_one({"_id": "page"})
    g.account = doc["account"]
    g.language = doc["account"].get("language") or "pl"
    return render_template("dashboard.html", d=doc["d"])


app.add_url_rule("/bench-baseline", "bench_baseline", baseline)
