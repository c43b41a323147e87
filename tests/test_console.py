"""What a user reads on the console: each message once, no advertisements, the run folder at the
start and at the end; in a sweep, one line per job."""

from __future__ import annotations

import re

from helpers import multirun, run_cli

from experiments.output.console import number

ADVERTS = ("litlogger", "litmodels", "srun", "LitLogger")


def messages(output: str) -> list[str]:
    """The console's lines without Hydra's `[time][logger][LEVEL] - ` prefix."""
    lines = (re.sub(r"^\[[^]]*\]\[[^]]*\]\[[A-Z]+\] - ", "", line) for line in output.splitlines())
    return [line.strip() for line in lines if line.strip()]


def clean_console(done) -> tuple[str, list[str]]:
    """A command's output and its messages, checked: it succeeded, no message printed twice,
    no advertisement."""
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-2000:]
    lines = messages(output)
    assert len(lines) == len(set(lines)), f"a line printed twice:\n{output}"
    assert not any(word in output for word in ADVERTS), output
    return output, lines


def test_a_default_run_prints_each_message_once_and_names_its_folder(tmp_path) -> None:
    run_dir = tmp_path / "run"
    output, lines = clean_console(run_cli(run_dir=run_dir))
    assert "Training:" not in output, "no progress bar when stdout is not a terminal"
    assert str(run_dir) in "\n".join(lines[:4]), "the run folder, at the start"
    assert str(run_dir) in lines[-1] and "test/acc" in lines[-1], "and at the end"
    assert re.search(r"test/tn \d+,", output), "confusion counts as integers"


def test_a_sweep_prints_one_line_per_job(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    done = multirun("experiment=xor", "model.lr=0.5,1.0", "trainer.max_steps=20", sweep_dir=sweep)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-2000:]
    assert re.search(r"^\[1/2\] model\.lr=0\.5  completed  val/loss \S+ .* s$", output, re.M)
    assert re.search(r"^\[2/2\] model\.lr=1\.0  completed", output, re.M)
    assert "GPU available" not in output, "a job's log goes to its train.log only"
    assert "GPU available" in (sweep / "0" / "train.log").read_text()


def test_a_vectorized_sweep_prints_its_population_not_lightning(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    args = (
        "experiment=xor",
        "model.lr=0.5,1.0",
        "trainer.max_steps=20",
        "hydra/sweeper=vectorized",
    )
    output, _ = clean_console(multirun(*args, sweep_dir=sweep))
    assert "GPU available" not in output, "the population's log goes to its train.log only"
    assert re.search(r"^population_0: 2 grid points  2 completed$", output, re.M), output
    assert re.search(r"trained 2 members", (sweep / "population_0" / "train.log").read_text())


def test_a_large_population_logs_its_progress_as_it_builds_trains_and_writes(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    args = ("experiment=xor", "seed=range(100)", "trainer.max_steps=20", "hydra/sweeper=vectorized")
    done = multirun(*args, sweep_dir=sweep)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (sweep / "population_0" / "train.log").read_text()
    built = re.findall(r"building members: the networks of (\d+) of 100 seeds", log)
    assert [int(n) for n in built] == list(range(10, 100, 10)), log
    assert re.search(r"built 100 members \(100 seeds x 1 learning rates\)", log), log
    assert re.search(r"members at step 20 of 20", log), log
    written = [int(n) for n in re.findall(r"job folders: about (\d+) of 100 written", log)]
    assert written and written == sorted(written) and written[-1] < 100, log
    assert re.search(r"wrote 100 job folders in", log), log


def test_numbers_read_as_typed() -> None:
    assert [number(27.0), number(0.18234), number(96610.0), number("x")] == [
        "27",
        "0.1823",
        "96610",
        "x",
    ]


def test_a_resumed_run_s_progress_bar_knows_its_total(make_cfg, monkeypatch, capsys) -> None:
    """A resumed run restarts inside its epoch: its bar still counts to max_steps (not `40/?`),
    from the checkpoint's step."""
    from experiments.run.training import train

    monkeypatch.setattr("experiments.run.callbacks.stdout_is_terminal", lambda: True)
    common = [
        "experiment=xor",
        "logger.tensorboard.version=v500",
        "~callbacks.figures",
        "~callbacks.histograms",
    ]
    first = make_cfg(*common, "trainer.max_steps=20", quiet=False)
    train(first)
    last = f"ckpt_path={first.output_dir}/checkpoints/last.ckpt"
    resumed = make_cfg(*common, "trainer.max_steps=40", last, quiet=False)
    capsys.readouterr()
    train(resumed)
    bar = capsys.readouterr()
    bar = bar.out + bar.err
    assert "40/40" in bar and "/?" not in bar, bar[-2000:]
    assert "v_num" not in bar, "the logger's version is not a metric"
    assert re.search(r"Training:\s+50%.*20/40", bar), "starts at the checkpoint's step"
