"""Pictures of a fidelity run: a contact sheet per photo, the confusion matrix, before/after."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from evaluation.fidelity.report import NO_FACE, FidelitySummary
from evaluation.fidelity.runner import PhotoResult, Reading

__all__ = ["save_confusion_plot", "save_contact_sheet", "stack_sheets"]

_GOOD = (120, 230, 120)
_BAD = (255, 120, 110)
_PLAIN = (235, 235, 235)


def save_contact_sheet(result: PhotoResult, path: Path, cell: int = 192) -> Path:
    """One row: the photo crop, its re-render, then each asked class; every cell labelled
    with what was asked (top) and the judge's reading with its probability (bottom; green
    when it is what was asked)."""
    cells = [
        _cell(result.frames["photo"], "photo", result.photo, None, cell),
        _cell(result.frames["rerender"], "re-render", result.rerender, result.photo.label, cell),
    ]
    cells += [
        _cell(result.frames[asked], f"asked: {asked}", reading, asked, cell)
        for asked, reading in result.singles.items()
    ]
    sheet = Image.new("RGB", (cell * len(cells), cell), (0, 0, 0))
    for k, image in enumerate(cells):
        sheet.paste(image, (k * cell, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=90) if path.suffix.lower() in (".jpg", ".jpeg") else sheet.save(path)
    return path


def _cell(
    frame: NDArray[np.uint8], title: str, reading: Reading, expected: str | None, size: int
) -> Image.Image:
    from PIL import ImageDraw

    image = Image.fromarray(frame).resize((size, size), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size, 13), fill=(0, 0, 0))
    draw.text((3, 1), title, fill=_PLAIN)
    text = f"judge: {reading.label or NO_FACE} {reading.confidence:.2f}"
    colour = _PLAIN if expected is None else (_GOOD if reading.label == expected else _BAD)
    draw.rectangle((0, size - 14, size, size), fill=(0, 0, 0))
    draw.text((3, size - 13), text, fill=colour)
    return image


def stack_sheets(paths: Sequence[Path], labels: Sequence[str], out: Path) -> Path:
    """Sheets stacked vertically, each with a label strip on its left (before / after)."""
    from PIL import ImageDraw

    images = [Image.open(p).convert("RGB") for p in paths]
    strip = 70
    width = strip + max(im.width for im in images)
    sheet = Image.new("RGB", (width, sum(im.height for im in images)), (0, 0, 0))
    y = 0
    for image, label in zip(images, labels, strict=True):
        sheet.paste(image, (strip, y))
        ImageDraw.Draw(sheet).text((4, y + image.height // 2 - 6), label, fill=_PLAIN)
        y += image.height
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=88) if out.suffix.lower() in (".jpg", ".jpeg") else sheet.save(out)
    return out


def save_confusion_plot(summary: FidelitySummary, path: Path, title: str = "") -> Path:
    """Asked class (rows) x the judge's reading (columns, "no_face" last), as row shares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(summary.confusion)
    columns = list(next(iter(summary.confusion.values())))
    counts = np.array([[summary.confusion[r][c] for c in columns] for r in rows], float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(7.5, 6.0))
    axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(len(rows)):
        for j in range(len(columns)):
            if counts[i, j]:
                colour = "white" if shares[i, j] > 0.6 else "black"
                axes.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", color=colour)
    axes.set_xticks(range(len(columns)), columns, rotation=35, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel("judge's reading of the final frame")
    axes.set_ylabel("asked for")
    axes.set_title(
        title
        or f"fidelity: Acc1 {summary.acc1:.2f}, G-mean {summary.gmean:.2f}, "
        f"Acc2 {'-' if summary.acc2 is None else f'{summary.acc2:.2f}'} ({summary.photos} photos)"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
