"""Event pipeline: command → stored → published → consumed → stored → projected, events/s and lag.

Baseline: raw pika on the same broker, confirmed persistent publish of the same
number of messages to a durable queue, consumed and acked by a second connection.
The floor: the same command and consumer in Nameko without a database (bench/pipeline_services.py), i.e.
what the framework the services are built on costs before the kernel stores anything. CPU per command
of each process (from /proc/<pid>/stat) is printed for the kernel's run and the floor.
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
from nameko.exceptions import RpcTimeout

from bench.common import GUEST, RABBIT_API, Row, free_port, median, percentile, progress, start_nx, vhost
from kernel.caller import SignedClusterRpcProxy
from tools.devstack import Stack, wait_until

SERVICES = {"producer": "ProducerService", "consumer": "ConsumerService"}
FLOOR = {"floorproducer": "FloorProducerService", "floorconsumer": "FloorConsumerService"}


def _consumers(name: str, service: str = "benchconsumer") -> int:
    queues = requests.get(f"{RABBIT_API}/queues/{quote(name, safe='')}", auth=GUEST, timeout=10).json()
    return sum(q.get("consumers", 0) for q in queues if f"--{service}." in q["name"])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(stack: Stack, names: tuple[str, ...]) -> dict[str, float]:
    return {name: cpu_seconds(stack.pid(name)) for name in names}


def _send(rpc, run: str, count: int, concurrency: int, producer: str = "benchproducer") -> None:
    """`count` commands with at most `concurrency` waiting for their reply."""
    record = getattr(rpc, producer).record
    pending: collections.deque = collections.deque()
    for n in range(count):
        if len(pending) >= concurrency:
            pending.popleft().result()
        pending.append(record.call_async(run, n, time.time()))
    timeouts = 0
    for reply in pending:
        try:
            reply.result()
        except RpcTimeout:  # still queued: its event comes later, and its lag says so
            timeouts += 1
    return timeouts


def _send_paced(rpc, run: str, count: int, rate: float) -> int:
    """`count` commands at `rate` a second, each sent at its moment whatever the replies (open loop); how many
    replies did not come within the proxy's timeout."""
    started = time.time()
    pending = []
    for n in range(count):
        delay = started + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        pending.append(rpc.benchproducer.record.call_async(run, n, time.time()))
    timeouts = 0
    for reply in pending:
        try:
            reply.result()
        except RpcTimeout:  # still queued: its event comes later, and its lag says so
            timeouts += 1
    return timeouts


def kernel_pipeline(stack: Stack, mongo_uri: str, events: int, concurrency: int, rate: float) -> dict:
    """As fast as it goes with `concurrency` commands in flight, then `rate` and `rate` / 4 commands a second
    for 10 s each (sent on time whatever the replies)."""
    copies = pymongo.MongoClient(mongo_uri)["bench_benchconsumer"]["copies_view"]
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60) as rpc:
        _send(rpc, "warmup", 50, concurrency)
        wait_until(lambda: copies.count_documents({}) == 50, 60, "the warm-up events")
        started, cpu_before = time.time(), _cpu(stack, ("producer", "consumer", "mongo"))
        _send(rpc, "main", events, concurrency)
        wait_until(lambda: copies.count_documents({}) == 50 + events, 600, "every event projected by the consumer")
        cpu = {name: (used - cpu_before[name]) / events for name, used in _cpu(stack, tuple(cpu_before)).items()}
        figures = {"fast": {**_figures(copies, started), "cpu": cpu}}
        done = 50 + events
        for each in (rate, rate / 4):  # the target's rate, and one the pipeline keeps up with on 2 busy cores
            paced = int(each * 10)
            progress(f"event pipeline: {paced:,} commands at {each:.0f} a second for 10 s")
            started = time.time()
            timeouts = _send_paced(rpc, f"paced{each:.0f}", paced, each)
            done += paced
            wait_until(lambda: copies.count_documents({}) == done, 600, "every paced event projected")  # noqa: B023
            figures[each] = {**_figures(copies, started), "timeouts": timeouts}
        return figures


def floor_pipeline(stack: Stack, events: int, concurrency: int) -> dict:
    """The same commands through Nameko without a database, as fast as they go with `concurrency` in flight."""
    with SignedClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"], "serializer": "json"}, timeout=60) as rpc:
        consumer = rpc.benchfloorconsumer
        warm = time.time()
        _send(rpc, "warmup", 50, concurrency, "benchfloorproducer")
        wait_until(lambda: len(consumer.arrivals(warm)) == 50, 60, "the floor's warm-up events")
        started, cpu_before = time.time(), _cpu(stack, tuple(FLOOR))
        _send(rpc, "main", events, concurrency, "benchfloorproducer")
        wait_until(lambda: len(consumer.arrivals(started)) == events, 600, "every floor event consumed")
        cpu = {name: (used - cpu_before[name]) / events for name, used in _cpu(stack, tuple(FLOOR)).items()}
        return {**_rate_and_lag(consumer.arrivals(started), started), "cpu": cpu}


def _figures(copies, started: float) -> dict[str, float]:
    docs = [d for d in copies.find({}, {"sent_at": 1, "projected_at": 1}) if d["sent_at"] >= started]
    return _rate_and_lag([(d["sent_at"], d["projected_at"]) for d in docs], started)


def _rate_and_lag(done: list, started: float) -> dict[str, float]:
    """From (sent_at, done_at) pairs: events per second since `started`, lag p50 and p95 in ms, the count."""
    lags = [(finished - sent) * 1000 for sent, finished in done]
    elapsed = max(finished for _, finished in done) - started
    return {"rate": len(done) / elapsed, "p50": median(lags), "p95": percentile(lags, 95), "count": len(done)}


def round_trips(mongo_uri: str) -> list[Row]:
    """Database round trips per event on the kernel's paths (bench.eventstore.round_trips), on this run's nx-27017."""
    from bench import eventstore  # registers its command listener before the client below is made
    from kernel import db
    from kernel.eventstore import EventStore

    db.connect(eventstore.ALIAS, mongo_uri, "bench_roundtrips")
    try:
        store = EventStore(eventstore.ALIAS)
        store.ensure_indexes()
        eventstore.ledger_view.reset()
        return eventstore.round_trips(store)
    finally:
        db.disconnect(eventstore.ALIAS)


def _start(stack: Stack, services: dict[str, str]) -> None:
    profile = os.environ.get("BENCH_PROFILE")  # a directory: each service's cProfile statistics go there
    for key, cls in services.items():
        wrap = ["-m", "bench.profiled", f"{profile}/{key}.prof"] if profile else []
        stack.start_process(key, [sys.executable, *wrap, "-m", "nameko", "run", f"bench.pipeline_services:{cls}",
                                  "--config", "bench/pipeline.yml"])  # fmt: skip


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


def run(events: int = 2000, concurrency: int = 20, rate: float = 100) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, vhost() as name:
        mongo_port = free_port()
        mongo_uri = f"mongodb://127.0.0.1:{mongo_port}/"
        stack = Stack(var=Path(tmp), mongo_port=mongo_port)
        stack.env = {"AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{name}", "MONGO_URI": mongo_uri,
                     "DB_PREFIX": "bench_"}  # fmt: skip
        os.environ.setdefault("RPC_SIGNING_KEYS", stack.environment()["RPC_SIGNING_KEYS"])  # our calls are signed
        try:
            start_nx(stack, mongo_port)
            try:
                _start(stack, SERVICES)
                wait_until(lambda: _consumers(name) > 0, 60, "the benchmark consumer")
                progress(f"event pipeline: {events:,} commands through the kernel, {concurrency} in flight")
                ours = kernel_pipeline(stack, mongo_uri, events, concurrency, rate)
            finally:
                for key in SERVICES:
                    stack.stop_process(key)
            try:
                _start(stack, FLOOR)
                wait_until(lambda: _consumers(name, "benchfloorconsumer") > 0, 60, "the floor's consumer")
                progress(f"event pipeline: {events:,} commands through Nameko without a database (the floor)")
                floor = floor_pipeline(stack, events, concurrency)
            finally:
                for key in FLOOR:
                    stack.stop_process(key)
            progress(f"event pipeline: {events:,} raw confirmed publishes with pika (the baseline)")
            raw = pika_baseline(name, events)
            progress("event pipeline: database round trips per event (pymongo command listener)")
            trips = round_trips(mongo_uri)
        finally:
            stack.stop_process("mongo")
    fast = ours.pop("fast")
    return [Row(
        "event pipeline", f"{events:,} commands, {concurrency} in flight, end to end",
        f"{fast['rate']:,.0f} events/s, lag p50/p95 {fast['p50']:,.0f}/{fast['p95']:,.0f} ms",
        f"pika confirmed persistent: {raw['rate']:,.0f} msg/s, lag p50/p95 {raw['p50']:.1f}/{raw['p95']:.1f} ms",
        f"{fast['rate'] / raw['rate']:.0%} of the baseline rate (target ≥ 25%)",
    ), Row(
        "event pipeline", f"the floor: the same {events:,} commands through Nameko, no database",
        f"{floor['rate']:,.0f} events/s, lag p50/p95 {floor['p50']:,.0f}/{floor['p95']:,.0f} ms", "",
        f"{floor['rate'] / raw['rate']:.0%} of the baseline rate; the kernel reaches {fast['rate'] / floor['rate']:.0%} "
        "of the floor",
    ), Row(
        "event pipeline", "CPU per command (ms): producer / consumer / database",
        " / ".join(f"{fast['cpu'][n] * 1000:.1f}" for n in ("producer", "consumer", "mongo")),
        "the floor: " + " / ".join(f"{floor['cpu'][n] * 1000:.1f}" for n in FLOOR) + " / none", "",
    ), *(Row(
        "event pipeline", f"{paced['count']:,} commands sent at {each:.0f} a second for 10 s, end to end",
        f"{paced['rate']:,.0f} events/s, lag p50/p95 {paced['p50']:,.0f}/{paced['p95']:,.0f} ms"
        + (f", {paced['timeouts']:,} replies after the 60 s RPC timeout" if paced["timeouts"] else ""), "",
        "target: lag p95 under 100 ms at 100 events/s",
    ) for each, paced in ours.items()), *trips]  # fmt: skip
