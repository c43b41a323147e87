"""A real `tensorboard` server on a finished run, read through its HTTP data API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import read_metrics, run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, body: dict | None = None, timeout: float = 10) -> object:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "X-XSRF-Protected": "1"} if body else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture
def server(tmp_path):
    """A finished run under tmp_path/runs, and a TensorBoard server over that folder."""
    logdir = tmp_path / "runs"
    done = run_cli(
        "experiment=xor", "model=scratch", "trainer.max_steps=200", run_dir=logdir / "xor"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    binary = Path(sys.executable).with_name("tensorboard")
    process = subprocess.Popen(
        [str(binary), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                if fetch(f"{base}/data/runs", timeout=2):
                    break
            except OSError:
                pass
            assert process.poll() is None, "tensorboard exited"
            assert time.monotonic() < deadline, "tensorboard did not list the run within 90 s"
            time.sleep(0.5)
        yield base, logdir / "xor"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_tensorboard_serves_scalars_images_histograms_and_hparams(server) -> None:
    base, run_dir = server
    run = "xor/tensorboard"
    assert fetch(f"{base}/data/runs") == [run]

    plugins = fetch(f"{base}/data/plugins_listing")
    for plugin in ("scalars", "images", "histograms", "hparams"):
        assert plugins[plugin]["enabled"], f"{plugin} holds no data"

    scalar_tags = fetch(f"{base}/data/plugin/scalars/tags")[run]
    assert {"train/loss", "val/loss", "val/acc", "test/acc"} <= scalar_tags.keys()
    val_loss = fetch(f"{base}/data/plugin/scalars/scalars?run={run}&tag=val/loss")
    assert len(val_loss) >= 10 and val_loss[-1][2] < val_loss[0][2]

    images = fetch(f"{base}/data/plugin/images/tags")[run]
    assert {"figures/loss_curves", "figures/confusion_matrix", "figures/decision_boundary"} <= (
        images.keys()
    )
    assert "weights/0.weight" in fetch(f"{base}/data/plugin/histograms/tags")[run]

    experiment = fetch(f"{base}/data/plugin/hparams/experiment", body={"experimentName": ""})
    hparams = {info["name"] for info in experiment["hparamInfos"]}
    assert {"lr", "max_steps", "model", "data", "hidden", "activation"} <= hparams
    metric_tags = {info["name"]["tag"] for info in experiment["metricInfos"]}
    final = {k for k, v in read_metrics(run_dir).items() if "/" in k and isinstance(v, float)}
    assert final <= metric_tags, "every final metric is an HParams column"
