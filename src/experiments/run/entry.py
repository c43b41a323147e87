"""How `scripts/` run their `@hydra.main` function (`run_main`): what Hydra cannot compose, and a
signal while a run starts, each end the command with one line and exit status 1.

- **A command line Hydra cannot compose** (a key the config lacks, an option a config group lacks,
  override syntax): Hydra's own report is a block of lines; `one_line` says it in one, with the
  key's nearest names (`model.lrr=0.1: no key lrr under model: did you mean model.lr?`).
- **SIGINT or SIGTERM during start-up** (imports, reading the data, building the model): Python
  and Lightning would die silently (SIGTERM) or with a traceback (Ctrl+C). Until training starts
  (`startup_over`, called by `training.train`), either stops the run at once with one line; nothing
  was trained or written that looks like a result (a signal that comes during an import waits for
  the import to finish: a module cut short would break the sweep report that may follow). From
  then on `callbacks.GracefulInterrupt` handles them. In a sweep this holds for each job's
  start-up when the job runs in the sweep's own process (`run_starts`; the sweep then reports
  what it has); a sweep whose jobs run elsewhere keeps the signals' usual handlers.
- **A folder that cannot be made or written, or a full disk**, where Hydra makes the run's folder
  and writes its `.hydra/` (before the run's own code, which reports these itself): one line
  naming the path (`errors.storage_error`); what this launch wrote there goes (`_undo_start`), so
  a folder made for it is gone and an older one keeps what it held. The log file on a full disk
  prints no "Logging error" blocks (`logging.raiseExceptions`): the line says what happened.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.errors import storage_error
from experiments.run.trainer_keys import unknown_key_line

log = logging.getLogger("experiments")

STARTUP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOPPED_TRAINING = (
    "{signal} before training started: nothing was trained or written by this run; "
    "run the same command again to start it"
)
STOPPED_PREDICTING = "{signal} before the predictions were written: run the same command again"


@dataclass
class _StartUp:
    """This process's start-up state."""

    armed: bool = False  # `run_main` runs this process's Hydra main
    pass_on: bool = False  # a sweep whose jobs run elsewhere (`sweep_starts`)
    pending: str | None = None  # a signal that came during an import, not yet acted on
    usual: dict[int, Any] = field(default_factory=dict)  # STARTUP_SIGNALS' handlers before


_state = _StartUp()


class StartupInterrupted(BaseException):
    """A signal (its name) before training started. A BaseException, as KeyboardInterrupt is: it
    is raised wherever the run happens to be, and no `except Exception` on the way may take it for
    an error of its own."""


def _stop(signum: int, frame: Any) -> None:
    if _state.pass_on:  # the sweep's jobs report for themselves
        _pass_on(signum, frame)
        return
    _state.pending = signal.Signals(signum).name
    if not _importing(frame):  # an import cut short leaves its module half made: not now
        stop_if_asked()


def _importing(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def stop_if_asked() -> None:
    """Raise for a signal that came during an import, now that the import is done."""
    if name := _state.pending:
        _state.pending = None
        raise StartupInterrupted(name)


def _pass_on(signum: int, frame: Any) -> None:
    """What the signal did before start-up took it."""
    handler = _state.usual.get(signum, signal.SIG_DFL)
    _give_back()
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


def _take_signals() -> None:
    if not _state.usual:
        _state.usual = {s: signal.signal(s, _stop) for s in STARTUP_SIGNALS}


def sweep_starts(jobs_run_here: bool) -> None:
    """A sweep starts in this process; when its jobs run elsewhere (not the basic launcher), a
    signal here does what it did before start-up took it."""
    _state.pass_on = not jobs_run_here


def sweep_ends() -> None:
    _state.pass_on = False


def run_starts() -> None:
    """A run starts in this process (a single run, or a sweep's job run in the sweep's own
    process): until `startup_over`, a signal stops it with one line."""
    if _state.armed:
        _take_signals()
    stop_if_asked()


def startup_over() -> None:
    """Training starts: a signal that came during an import stops the run now; from here on the
    signals' usual handlers are back (and `GracefulInterrupt`'s while training)."""
    stop_if_asked()
    _give_back()


def _give_back() -> None:
    while _state.usual:
        signum, handler = _state.usual.popitem()
        signal.signal(signum, handler)


def run_main(main: Callable[[], Any], stopped: str = STOPPED_TRAINING) -> None:
    """Call `main` (a `@hydra.main` function) as described above; `stopped` is the line for a
    signal. `HYDRA_FULL_ERROR=1` set by the user keeps Hydra's own error reports."""
    from hydra.errors import CompactHydraException, InstantiationException
    from omegaconf.errors import InterpolationResolutionError

    hydra_reports = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises what it would print as a block
    logging.raiseExceptions = False  # a log file on a full disk: no traceback per record
    _state.armed = True
    _take_signals()
    started = time.time()
    try:
        main()
    except StartupInterrupted as signalled:
        log.error("%s", stopped.format(signal=signalled))
        sys.exit(1)
    except InstantiationException:
        raise  # inside a run: a bug, with its traceback
    except (CompactHydraException, InterpolationResolutionError) as err:
        if hydra_reports:
            raise
        log.error("%s", one_line(err))
        sys.exit(1)
    except ValueError as err:  # Hydra's own, for `group=null` on the command line
        if hydra_reports or not str(err).startswith(NULL_GROUP):
            raise
        log.error("%s", null_group(sys.argv[1:]))
        sys.exit(1)
    except OSError as err:  # Hydra's own folder and files (the run's code reports its own)
        if hydra_reports or (line := storage_error(err)) is None:
            raise
        _undo_start(started)
        log.error("%s", line)
        sys.exit(1)
    finally:
        _state.armed = False
        _give_back()


def _undo_start(started: float) -> None:
    """Hydra failed to make or write the run's folder: the `.hydra/` files it wrote since
    `started` (perhaps cut short) go, an empty log file and the lock this process holds too, then
    each folder left empty. Files from before, an earlier run's results, stay."""
    from hydra.core.hydra_config import HydraConfig

    from experiments.run.run_lock import release, remove_if_empty

    try:
        folder = Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # Hydra failed before it chose the folder: nothing of ours there
        return
    release(folder)
    hydra_dir = folder / str(HydraConfig.get().output_subdir or ".hydra")
    written = [p for p in hydra_dir.glob("*.yaml") if p.stat().st_mtime >= started]
    logs = [p for p in folder.glob("*.log") if p.stat().st_size == 0]
    for path in [*written, *logs]:
        path.unlink(missing_ok=True)
    remove_if_empty(hydra_dir, folder)


NULL_GROUP = "Config group override must be a string or a list"


def null_group(argv: list[str]) -> str:
    """`logger=null`: a config group takes an option's name; `none` (where the group has one) or
    `~logger` leaves it out."""
    nulls = [a.partition("=")[0] for a in argv if a.endswith("=null") and "." not in a]
    group = nulls[0] if nulls else "GROUP"
    return f"{group}=null: a config group takes an option: use {group}=none, or ~{group} to drop it"


def one_line(err: Exception) -> str:
    """Hydra's composition error, or an interpolation that names no key (`seed=${nope}`), as one
    line that names the key or option."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf import DictConfig

    cause = err.__cause__
    if getattr(cause, "full_key", None) and isinstance(
        getattr(cause, "parent_node", None), DictConfig
    ):
        return _unknown_key(str(err), cause.full_key, list(cause.parent_node.keys()))
    if getattr(err, "full_key", None):  # an OmegaConf error
        return f"{err.full_key}: {str(err).splitlines()[0]}"
    if isinstance(err, MissingConfigException) and err.options and err.missing_cfg_file:
        group, _, name = err.missing_cfg_file.rpartition("/")
        options = ", ".join(o for o in err.options if not o.startswith("_"))
        return f"{group}={name} is not an option of {group}: use one of {options}"
    text = str(err).split("\nConfig search path:")[0]
    text += f"\n{str(cause).splitlines()[0]}" if cause is not None else ""
    lines = [line.strip().rstrip(".") for line in text.splitlines() if line.strip()]
    prefix = f"{err.override}: " if isinstance(err, OverrideParseException) else ""
    return prefix + "; ".join(lines)


def _unknown_key(message: str, full_key: str, siblings: list[str]) -> str:
    """`model.lrr=0.1: no key lrr under model: did you mean model.lr? (...)`."""
    parent, _, key = full_key.rpartition(".")
    keys = [k for k in map(str, siblings) if not k.startswith("_") and k != "hydra"]
    near = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    named = (lambda k: f"{parent}.{k}") if parent else str
    where = f"under {parent}" if parent else "at the top level"
    hint = f"use one of {', '.join(keys)}" if keys else f"{parent} takes no keys"
    hint = f"did you mean {' or '.join(map(named, near))}?" if near else hint
    append = re.search(r"use (\+\S+)", message)
    override = append.group(1)[1:] if append else full_key
    extra = f" (to add a key of your own: +{override})"
    if parent == "trainer":  # every Trainer argument a run honours is in the config: no `+`
        if (line := unknown_key_line(key)) is not None:
            return f"{override}: {line}"
        extra = " (not an argument of lightning.Trainer)"
    return f"{override}: no key {key} {where}: {hint}{extra}"
