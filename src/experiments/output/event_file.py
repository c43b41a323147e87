"""A TensorBoard run written in one go: what a vectorized member's job folder holds.

An ordinary run logs through Lightning's TensorBoardLogger, whose SummaryWriter starts a thread
and queues one event per scalar. A population has thousands of finished runs to write at once,
with every number already known, so each run's events are gathered in memory (one event per
step, holding all of that step's scalars) and written as one file of TensorBoard's own `Event`
protos, framed as its `RecordWriter` frames them but checksummed by the `crc32c` package (in C:
TensorBoard's pure-Python CRC-32C took most of the time of writing a population's runs).
`finish_run` calls it as it calls the logger.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path
from typing import Any

import crc32c
from tensorboard.compat.proto import event_pb2, summary_pb2

from experiments.atomic import write_bytes_atomic
from experiments.output.hparams import hparams_summaries, shown_params


def _masked_crc(data: bytes) -> bytes:
    """The record format's checksum: CRC-32C, rotated right by 15 bits and offset ("masked")."""
    crc = crc32c.crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def record(data: bytes) -> bytes:
    """One record: the length, its checksum, the data, its checksum (little-endian)."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


def whole_records_length(data: bytes) -> int:
    """How many leading bytes of an event file are whole records (the rest: one cut short)."""
    end = 0
    while end + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[end : end + 8])
        if end + 12 + length + 4 > len(data):
            break
        end += 12 + length + 4
    return end


def trim_to_whole_records(folder: Path) -> None:
    """Each event file in `folder` cut back to its whole records: what a writer that hit a full
    disk part-way through a record leaves is then a shorter file, not a damaged one."""
    for path in Path(folder).glob("events.out.tfevents.*"):
        data = path.read_bytes()
        if (end := whole_records_length(data)) < len(data):
            os.truncate(path, end)


class EventFileRun:
    """The `log_metrics` / `log_hyperparams` / `end_run` of `HParamsLogger`, buffered until
    `end_run`.

    `varied` names the keys the sweep varied, marked as differing in the HParams tab.
    """

    def __init__(self, folder: Path, varied: set[str], number: int = 0) -> None:
        self.folder, self.varied, self.number = Path(folder), varied, number
        self.wall_time = time.time()  # one for the run: its numbers were all known at once
        version = event_pb2.Event(
            wall_time=self.wall_time,
            file_version="brain.Event:2",
            source_metadata=event_pb2.SourceMetadata(writer="experiments.output.event_file"),
        )
        self.records = [self._record(version)]  # framed as they come

    @staticmethod
    def _record(event: event_pb2.Event) -> bytes:
        return record(event.SerializeToString())

    def _add(self, step: int, summary: summary_pb2.Summary) -> None:
        event = event_pb2.Event(wall_time=self.wall_time, step=step)
        event.summary.CopyFrom(summary)
        self.records.append(self._record(event))

    def log_summary(self, summary: summary_pb2.Summary, step: int) -> None:
        """Any summary at `step`, e.g. a Custom Scalars layout (`experiments.sweeps.mean_runs`)."""
        self._add(step, summary)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        # Filled in place: building Values and a Summary to pass in copies each of them.
        event = event_pb2.Event(wall_time=self.wall_time, step=step)
        add = event.summary.value.add
        for tag, value in metrics.items():
            add(tag=tag, simple_value=value)
        self.records.append(self._record(event))

    def log_hyperparams(self, params: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """The final metrics at `step`, then the HParams row, as `HParamsLogger` writes them."""
        params = shown_params(params)
        self.log_metrics(metrics, step)
        for summary in hparams_summaries(params, list(metrics), self.varied):
            self._add(step, summary)

    def end_run(self, status: str) -> None:
        """The event file, named as TensorBoard's own writer names it."""
        name = f"events.out.tfevents.{int(self.wall_time):010d}.{socket.gethostname()}"
        path = self.folder / f"{name}.{os.getpid()}.{self.number}"
        write_bytes_atomic(path, b"".join(self.records))  # makes the folder
        del self.records[1:]
