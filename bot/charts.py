"""Chart images for chat cards (heatmaps, radar), rendered server-side with a CJK font so Chinese never shows as boxes."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Debian's fonts-wqy-microhei (installed by .ci/run and `make`), or fonts-noto-cjk where a machine has it.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)

TEXT = {"no_font": "缺少中文字体：请安装 Debian 软件包 fonts-wqy-microhei（或 fonts-noto-cjk）"}


class ChartError(Exception):
    pass


@cache
def cjk_font() -> font_manager.FontProperties:
    for candidate in CJK_FONTS:
        if Path(candidate).is_file():
            font_manager.fontManager.addfont(candidate)
            return font_manager.FontProperties(fname=candidate)
    raise ChartError(TEXT["no_font"])


def covers(font: font_manager.FontProperties, text: str) -> bool:
    """Every character of `text` has a glyph in the font (no tofu boxes)."""
    from matplotlib.ft2font import FT2Font

    charmap = FT2Font(font.get_file()).get_charmap()
    return all(ord(ch) in charmap for ch in text if not ch.isspace())


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def heatmap(spec: dict[str, Any]) -> bytes:
    """spec: title, rows (labels), columns (labels), values (rows × columns numbers)."""
    font = cjk_font()
    rows, columns, values = spec["rows"], spec["columns"], spec["values"]
    figure, axes = plt.subplots(figsize=(1.2 + 0.9 * len(columns), 0.9 + 0.45 * len(rows)))
    image = axes.imshow(values, cmap="YlOrRd", aspect="auto")
    axes.set_xticks(range(len(columns)), labels=columns, fontproperties=font)
    axes.set_yticks(range(len(rows)), labels=rows, fontproperties=font)
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            axes.text(c, r, str(value), ha="center", va="center", fontsize=8)
    axes.set_title(spec["title"], fontproperties=font)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return _png(figure)


def radar(spec: dict[str, Any]) -> bytes:
    """spec: title, labels, series: {name: values}."""
    import math

    font = cjk_font()
    labels = spec["labels"]
    angles = [2 * math.pi * i / len(labels) for i in range(len(labels))] + [0.0]
    figure = plt.figure(figsize=(4.5, 4.5))
    axes = figure.add_subplot(polar=True)
    for name, values in spec["series"].items():
        axes.plot(angles, [*values, values[0]], label=name)
        axes.fill(angles, [*values, values[0]], alpha=0.15)
    axes.set_xticks(angles[:-1], labels=labels, fontproperties=font)
    axes.set_title(spec["title"], fontproperties=font, pad=18)
    if len(spec["series"]) > 1:
        axes.legend(prop=font, loc="upper right", bbox_to_anchor=(1.3, 1.1))
    return _png(figure)


RENDERERS = {"heatmap": heatmap, "radar": radar}


def render(spec: dict[str, Any]) -> bytes:
    return RENDERERS[spec["type"]](spec)
