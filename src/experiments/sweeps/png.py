"""A sweep's pictures as PNG files, each written whole or not at all."""

from __future__ import annotations

import io
from pathlib import Path

from experiments.atomic import write_bytes_atomic


def save_png(path: Path, fig) -> None:
    """`fig` rendered to `path` (a temporary file renamed into place), then closed."""
    from experiments.figures import plt

    data = io.BytesIO()
    fig.savefig(data, format="png", dpi=100)
    plt.close(fig)
    write_bytes_atomic(path, data.getvalue())
