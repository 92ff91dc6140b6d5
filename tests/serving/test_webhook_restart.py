"""Issue 22's acceptance test: a held gun scan opens a case while its webhook receiver is down; the service is
restarted (a real `xscreen serve` process, stopped and started again); the receiver comes up and gets
exactly one delivery id, well within a minute, and its signature verifies. Polls conditions with deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from tests.factories import free_port, wait_until_ready
from tests.serving.conftest import GUN_POLICY, METRICS_TOKEN, signed_in
from tests.serving.images import png_bytes
from xscreen.serving.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, verify

SECRET = "investigators-shared-secret-0123"


class Hook:
    """A webhook receiver on loopback recording every POST (headers and raw body)."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Hook":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def until(condition: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def service_env(tmp_path: Path, gun_models_dir: Path) -> Iterator[dict[str, str]]:
    policy = tmp_path / "gun-policy.yaml"
    policy.write_text(GUN_POLICY)
    yield {
        **os.environ,
        "XSCREEN_DATA_DIR": str(tmp_path / "data"),
        "XSCREEN_MODELS_DIR": str(gun_models_dir),
        "XSCREEN_POLICY_FILE": str(policy),
        "XSCREEN_PROVIDERS": '["CPUExecutionProvider"]',
        "XSCREEN_INTRA_OP_THREADS": "1",
        "XSCREEN_WEBHOOK_SECRET": SECRET,
        "XSCREEN_METRICS_TOKEN": METRICS_TOKEN,
        # Short backoff so the test sees several failed attempts quickly; the worker is woken by the hold itself.
        "XSCREEN_WEBHOOK_BACKOFF_BASE_S": "0.05",
        "XSCREEN_WEBHOOK_BACKOFF_MAX_S": "0.5",
    }


def serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", "from xscreen.cli import app; app()", "serve", "--port", str(port), "--no-access-log"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until_ready(port, process, timeout_s=120)
    return process


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode in (0, -signal.SIGTERM), output
    return output


def created(env: dict[str, str], *args: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-m", "xscreen.cli", *args, "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_receiver_down_across_a_restart_gets_exactly_one_delivery(service_env: dict[str, str]) -> None:
    hook_port, port = free_port(), free_port()
    env = {**service_env, "XSCREEN_WEBHOOK_URL": f"http://127.0.0.1:{hook_port}/xscreen"}
    station = created(env, "keys", "create", "--station", "lane-3")["key"]
    password = created(env, "officers", "create", "--name", "desk-1")["password"]
    base = f"http://127.0.0.1:{port}"

    def as_officer(path: str) -> Any:
        with signed_in(base, "desk-1", password) as officer:  # a session per process: sessions live in the database anyway
            return officer.get(path).json()

    def deliveries() -> list[dict[str, Any]]:
        return as_officer("/v1/deliveries")["items"]

    first = serve(env, port)
    try:
        held = httpx.post(f"{base}/v1/scans", headers={"X-API-Key": station}, files={"file": ("s.png", png_bytes(), "image/png")},
                          data={"scan_id": "LANE3-000777", "item_ref": "CP123456789DE", "declared_contents": "clothes"}, timeout=60)
        assert held.status_code == 201 and held.json()["decision"]["verdict"] == "hold", held.text
        (case,) = as_officer("/v1/cases")["items"]
        assert case["item_ref"] == "CP123456789DE" and case["scan_ids"] == ["LANE3-000777"]
        # The receiver is down: attempts fail and are retried, the row stays pending.
        until(lambda: [d for d in deliveries() if d["attempts"] >= 2 and d["status"] == "pending"], timeout_s=30, what="two failed attempts")
    finally:
        stop(first)

    with Hook(hook_port) as hook:
        second = serve(env, port)
        try:
            back = time.monotonic()
            until(lambda: hook.received, timeout_s=60, what="the delivery after the restart")
            assert time.monotonic() - back < 60
            (row,) = until(lambda: [d for d in deliveries() if d["status"] == "delivered"], timeout_s=30, what="the delivery recorded")
            metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
        finally:
            stop(second)

    assert len({headers[DELIVERY_HEADER] for headers, _ in hook.received}) == 1
    assert len(hook.received) == 1  # delivered once: not re-sent after it was acknowledged
    headers, body = hook.received[0]
    assert headers[DELIVERY_HEADER] == row["delivery_id"] and row["attempts"] >= 3
    assert verify(body, headers[SIGNATURE_HEADER], SECRET)
    document = json.loads(body)
    assert document["event"] == "case.opened" and document["delivery_id"] == row["delivery_id"] and document["sent_at"]
    assert document["case"]["case_id"] == case["case_id"] and document["case"]["item_ref"] == "CP123456789DE"
    assert document["case"]["categories"] == ["firearms"] and document["scan_id"] == "LANE3-000777"
    (scan,) = document["case"]["scans"]
    assert scan["detections"] and scan["decision"]["reasons"] and scan["links"]["annotated"] == "/v1/scans/LANE3-000777/annotated"
    assert 'xscreen_webhook_outbox{receiver="default",status="delivered"} 1.0' in metrics
