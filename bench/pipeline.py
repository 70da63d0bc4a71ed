"""Event pipeline: command → stored → published → consumed → stored → projected, events/s and lag.

Baseline: raw pika on the same broker, confirmed persistent publish of the same
number of messages to a durable queue, consumed and acked by a second connection.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pika
import pymongo
import requests

from bench.common import GUEST, RABBIT_API, Row, free_port, median, percentile, progress, start_nx, vhost
from kernel.caller import SignedClusterRpcProxy
from tools.devstack import Stack, wait_until

SERVICES = {"producer": "ProducerService", "consumer": "ConsumerService"}


def _consumers(name: str) -> int:
    queues = requests.get(f"{RABBIT_API}/queues/{quote(name, safe='')}", auth=GUEST, timeout=10).json()
    return sum(q.get("consumers", 0) for q in queues if "benchconsumer" in q["name"])


def _send(rpc, run: str, count: int, concurrency: int) -> None:
    """`count` commands with at most `concurrency` waiting for their reply."""
    pending: collections.deque = collections.deque()
    for n in range(count):
        if len(pending) >= concurrency:
            pending.popleft().result()
        pending.append(rpc.benchproducer.record.call_async(run, n, time.time()))
    for reply in pending:
        reply.result()


def kernel_pipeline(stack: Stack, mongo_uri: str, events: int, concurrency: int) -> dict[str, float]:
    copies = pymongo.MongoClient(mongo_uri)["bench_benchconsumer"]["copies_view"]
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60) as rpc:
        _send(rpc, "warmup", 50, concurrency)
        wait_until(lambda: copies.count_documents({}) == 50, 60, "the warm-up events")
        started = time.time()
        _send(rpc, "main", events, concurrency)
        wait_until(lambda: copies.count_documents({}) == 50 + events, 600, "every event projected by the consumer")
    docs = [d for d in copies.find({}, {"sent_at": 1, "projected_at": 1}) if d["sent_at"] >= started]
    lags = [(d["projected_at"] - d["sent_at"]) * 1000 for d in docs]
    elapsed = max(d["projected_at"] for d in docs) - started
    return {"rate": len(docs) / elapsed, "p50": median(lags), "p95": percentile(lags, 95), "count": len(docs)}


def pika_baseline(name: str, count: int) -> dict[str, float]:
    params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:5672/{quote(name, safe='')}")
    queue = f"bench-baseline-{uuid.uuid4().hex[:6]}"
    publisher = pika.BlockingConnection(params)
    channel = publisher.channel()
    channel.queue_declare(queue, durable=True)
    channel.confirm_delivery()
    lags: list[float] = []
    finished: list[float] = []

    def consume() -> None:
        connection = pika.BlockingConnection(params)
        inbound = connection.channel()
        inbound.basic_qos(prefetch_count=100)
        for method, _, body in inbound.consume(queue, inactivity_timeout=30):
            if method is None:
                break
            lags.append((time.time() - json.loads(body)["sent_at"]) * 1000)
            inbound.basic_ack(method.delivery_tag)
            if len(lags) == count:
                break
        finished.append(time.time())
        inbound.cancel()
        connection.close()

    reader = threading.Thread(target=consume)
    reader.start()
    started = time.time()
    persistent = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    for n in range(count):
        channel.basic_publish("", queue, json.dumps({"n": n, "sent_at": time.time()}), persistent, mandatory=True)
    reader.join(timeout=120)
    channel.queue_delete(queue)
    publisher.close()
    return {"rate": len(lags) / (finished[0] - started), "p50": median(lags), "p95": percentile(lags, 95)}


def run(events: int = 2000, concurrency: int = 20) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, vhost() as name:
        mongo_port = free_port()
        mongo_uri = f"mongodb://127.0.0.1:{mongo_port}/"
        stack = Stack(var=Path(tmp), mongo_port=mongo_port)
        stack.env = {"AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{name}", "MONGO_URI": mongo_uri,
                     "DB_PREFIX": "bench_"}  # fmt: skip
        os.environ.setdefault("RPC_SIGNING_KEYS", stack.environment()["RPC_SIGNING_KEYS"])  # our calls are signed
        try:
            start_nx(stack, mongo_port)
            for key, cls in SERVICES.items():
                stack.start_process(key, [sys.executable, "-m", "nameko", "run", f"bench.pipeline_services:{cls}",
                                          "--config", "bench/pipeline.yml"])  # fmt: skip
            wait_until(lambda: _consumers(name) > 0, 60, "the benchmark consumer")
            progress(f"event pipeline: {events:,} commands through the kernel, {concurrency} in flight")
            ours = kernel_pipeline(stack, mongo_uri, events, concurrency)
            progress(f"event pipeline: {events:,} raw confirmed publishes with pika (the baseline)")
            raw = pika_baseline(name, events)
        finally:
            for key in SERVICES:
                stack.stop_process(key)
            stack.stop_process("mongo")
    return [Row(
        "event pipeline", f"{events:,} commands, {concurrency} in flight, end to end",
        f"{ours['rate']:,.0f} events/s, lag p50/p95 {ours['p50']:.0f}/{ours['p95']:.0f} ms",
        f"pika confirmed persistent: {raw['rate']:,.0f} msg/s, lag p50/p95 {raw['p50']:.1f}/{raw['p95']:.1f} ms",
        f"{ours['rate'] / raw['rate']:.0%} of the baseline rate (target ≥ 50%)",
    )]  # fmt: skip
