"""Resource walls, each one line: a network that cannot fit in memory is refused before a byte of
it is allocated; a full disk (a small tmpfs, as root) and a folder that cannot be written (as a
process without root's capabilities) name the path, exit 1, and leave no file half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers import ROOT, multirun, run_cli
from PIL import Image

from experiments.architecture import Architecture
from experiments.core.network import build_network
from experiments.errors import ConfigError
from experiments.models.mlp import ACTIVATIONS, CONV_LAYERS
from experiments.output.event_file import record, trim_to_whole_records, whole_records_length
from experiments.run.memory import Footprint, available_bytes, check_fits, parameter_count

GIB = 1024**3


def _torch_parameters(arch: Architecture) -> int:
    linear = lambda i, o, b: torch.nn.Linear(i, o, bias=b)  # noqa: E731
    net = build_network(arch, linear, ACTIVATIONS, torch.nn.Sequential, conv=CONV_LAYERS)
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    "arch",
    [
        Architecture(n_inputs=13, n_outputs=1, hidden=(7, 5)),
        Architecture(n_inputs=3, n_outputs=2, hidden=(), bias=False),
        Architecture(
            n_inputs=64,
            n_outputs=10,
            hidden=(16,),
            image_shape=(1, 8, 8),
            channels=(4, 6),
            padding=1,
        ),
    ],
    ids=["dense", "one neuron, no bias", "convnet"],
)
def test_the_parameter_count_is_torchs(arch: Architecture) -> None:
    assert parameter_count(arch) == _torch_parameters(arch)


def test_the_footprint_counts_weights_state_and_activations() -> None:
    arch = Architecture(n_inputs=2, n_outputs=1, hidden=(10,), optimizer="adam")
    p = parameter_count(arch)  # 41
    one = Footprint(arch, batch_rows=4, eval_rows=4, precision="32-true")
    # weights + gradients + Adam's two; 4 rows x the widest output and its gradient (2 x 10)
    assert one.needed_bytes() == p * 4 * 4 + 4 * 20 * 4
    deep = Architecture(n_inputs=2, n_outputs=1, hidden=(10, 10, 10))  # sgd: no state
    # 4 rows x every layer's output (10 + 10 + 10 + 1 > 2 x 10), held for the backward pass
    assert Footprint(deep, 4, 4).needed_bytes() == parameter_count(deep) * 2 * 4 + 4 * 31 * 4
    assert Footprint(arch, 4, 4, "64-true").needed_bytes() == 2 * one.needed_bytes()
    assert Footprint(arch, 4, 4, networks=8).needed_bytes() == 8 * one.needed_bytes()
    needed = one.needed_bytes()
    check_fits(one, needed)  # exactly enough: not refused
    check_fits(one, None)  # unknown: not checked
    with pytest.raises(ConfigError, match=r"2-10-1 needs at least .* and this machine has"):
        check_fits(one, needed - 1)


def test_available_memory_is_read_from_meminfo(tmp_path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:  2048 kB\nSwapFree: 1024 kB\n")
    assert available_bytes(meminfo) == 3072 * 1024
    meminfo.write_text("MemTotal: 100 kB\n")
    assert available_bytes(meminfo) is None
    assert available_bytes(tmp_path / "none") is None


def _run_measured(args: list[str], out: Path) -> tuple[int, str, float, int]:
    """`python scripts/train.py ARGS`: exit status, output, CPU seconds and peak RSS in bytes."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    with open(out, "w") as sink:
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "train.py"), *args],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return (
        child.returncode,
        out.read_text(),
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * 1024,
    )


def test_a_network_too_big_is_refused_before_it_is_built(tmp_path) -> None:
    """The issue's `model.hidden=[100000000]` (heart: 13 inputs): 22 s and 6.3 GB, then
    PyTorch's allocator traceback; now one line with the sizes, the child never near 1 GB."""
    run_dir = tmp_path / "run"
    args = ["model.hidden=[100000000]", f"hydra.run.dir={run_dir}"]
    code, output, cpu_s, peak = _run_measured(args, tmp_path / "out.txt")
    assert code == 1 and "Traceback" not in output, output[-2000:]
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, output[-2000:]
    assert "the network 13-100000000-1 needs at least" in errors[0]
    assert "GiB of memory available: use smaller model.hidden" in errors[0]
    assert peak < GIB, f"{peak / GIB:.2f} GiB peak: it allocated"
    assert cpu_s < 20, f"{cpu_s:.1f} CPU seconds to the error"
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "checkpoints").exists()


def test_a_population_that_cannot_fit_is_refused(tmp_path) -> None:
    """Each member fits alone (1/64 of what is available); 256 at once do not: every grid point is
    recorded failed with the line, nothing allocated."""
    available = available_bytes()
    if available is None:
        pytest.skip("no /proc/meminfo MemAvailable on this machine")
    # xor: 2 inputs, 1 output, 4 rows; a member of width h needs ~64 h bytes (see Footprint)
    width = available // 64 // 64
    arch = Architecture(n_inputs=2, n_outputs=1, hidden=(width,))
    assert Footprint(arch, 4, 4).needed_bytes() < available // 32
    lrs = ",".join(str(0.1 * (i + 1)) for i in range(16))
    sweep = tmp_path / "sweep"
    args = ["experiment=xor", f"model.hidden=[{width}]", f"model.lr={lrs}", "seed=range(16)"]
    done = multirun(*args, "trainer.max_steps=10", "hydra/sweeper=vectorized", sweep_dir=sweep)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert "x 256 networks needs at least" in output, output[-3000:]
    records = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert len(records) == 256 and {r["status"] for r in records} == {"failed"}
    assert all("GiB of memory available" in r["error"] for r in records)


# --- a full disk: a 2 MiB tmpfs -----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs at tmp_path/disk, unmounted afterwards (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(disk: Path, leave_kib: int) -> None:
    """A file that leaves about `leave_kib` KiB free."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with open(disk / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave_kib * 1024))


def assert_every_file_whole(folder: Path) -> None:
    """No temporary left; each file that a reader parses parses (JSON, YAML, checkpoints, PNG)."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.name != "filler"]
    assert not [p for p in files if p.name.endswith(".tmp")], files
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".yaml":
            assert yaml.safe_load(path.read_text()) is not None or path.name == "hparams.yaml"
        elif path.suffix in (".ckpt", ".pth"):
            torch.load(path, map_location="cpu", weights_only=True)
        elif path.suffix == ".png":
            Image.open(path).verify()
        elif path.name.startswith("events.out.tfevents"):
            data = path.read_bytes()
            assert whole_records_length(data) == len(data), f"{path}: a record cut short"


def the_storage_line(done: subprocess.CompletedProcess) -> str:
    """Exit status 1, no traceback, and one line saying what could not be written (the only line
    when Hydra's own writes fail, before the run's logging is set up)."""
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output[-2000:]
    lines = [line for line in output.splitlines() if "cannot write" in line]
    assert len(lines) == 1, output[-2000:]
    return lines[0]


def test_an_event_file_cut_short_keeps_its_whole_records(tmp_path) -> None:
    whole = record(b"first event") + record(b"second")
    path = tmp_path / "events.out.tfevents.1.host.2"
    path.write_bytes(whole + record(b"third, cut by the full disk")[:-3])
    trim_to_whole_records(tmp_path)
    assert path.read_bytes() == whole


WIDE = "model.hidden=[200000]"  # xor: checkpoints of 3 MiB, more than the disk holds


def test_a_full_disk_is_one_line_naming_the_file(small_disk) -> None:
    run_dir = small_disk / "run"
    done = run_cli("experiment=xor", WIDE, "trainer.max_steps=20", run_dir=run_dir)
    line = the_storage_line(done)
    assert f"cannot write {run_dir}/" in line and "no space left on the device" in line, line
    assert_every_file_whole(small_disk)
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "failed" and "no space left on the device" in record["error"]


def test_a_disk_full_from_the_start_leaves_no_folder(small_disk) -> None:
    _fill(small_disk, leave_kib=0)
    run_dir = small_disk / "run"
    done = run_cli("experiment=xor", "trainer.max_steps=20", run_dir=run_dir)
    line = the_storage_line(done)
    assert len((done.stdout + done.stderr).strip().splitlines()) == 1
    assert f"cannot write {run_dir}" in line and "no space left on the device" in line, line
    assert not run_dir.exists(), sorted(run_dir.rglob("*"))


def test_a_sweep_records_the_job_the_disk_failed_and_goes_on(small_disk) -> None:
    sweep = small_disk / "sweep"
    done = multirun("experiment=xor", f"{WIDE},[4]", "trainer.max_steps=20", sweep_dir=sweep)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output[-3000:]
    first = json.loads((sweep / "0" / "metrics.json").read_text())
    second = json.loads((sweep / "1" / "metrics.json").read_text())
    assert first["status"] == "failed" and f"cannot write {sweep}/0/" in first["error"]
    assert second["status"] == "completed"
    assert_every_file_whole(small_disk)


# --- a folder that cannot be written: root without its capabilities ---------------------------


def _unprivileged() -> list[str]:
    """A prefix that runs a command as an unprivileged process: as root, root's capabilities
    dropped (`setpriv --bounding-set=-all`: no permission check is bypassed), so the venv, which may
    sit under /root, stays readable."""
    if os.geteuid() != 0:
        return []  # already unprivileged
    probe = subprocess.run(
        ["setpriv", "--bounding-set=-all", "--", sys.executable, "-c", "import experiments"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot drop root's capabilities here: {probe.stderr.strip()[-200:]}")
    return ["setpriv", "--bounding-set=-all", "--"]


@pytest.mark.parametrize(
    "script, args",
    [
        ("train.py", ["experiment=xor", "trainer.max_steps=5", "hydra.run.dir={folder}"]),
        ("train.py", ["-m", "experiment=xor", "trainer.max_steps=5", "hydra.sweep.dir={folder}"]),
        ("predict.py", ["ckpt_path=none.ckpt", "inputs=[[1,0]]", "hydra.run.dir={folder}"]),
    ],
    ids=["run folder", "sweep folder", "predictions folder"],
)
def test_a_folder_that_cannot_be_made_is_one_line(tmp_path, script, args) -> None:
    prefix = _unprivileged()
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    folder = parent / "out"
    command = [*prefix, sys.executable, str(ROOT / "scripts" / script)]
    command += [a.format(folder=folder) for a in args]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1 and "Traceback" not in output, output[-2000:]
    assert len(output.splitlines()) == 1, output[-2000:]
    assert f"cannot write {folder}: permission denied: give a folder you can write" in output
    assert not folder.exists()
