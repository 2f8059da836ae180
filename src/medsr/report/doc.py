"""A tiny document model that both the HTML and the Markdown writers render.

Sections build a list of blocks; images and charts are :class:`Asset` objects that the HTML
writer embeds (PNG as a data URI, SVG inline) and the Markdown writer saves under
``report_files/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PNG = "image/png"
SVG = "image/svg+xml"


@dataclass(frozen=True)
class Asset:
    """One image file of the report.

    Attributes:
        name: File name under ``report_files/`` (unique in the report).
        data: File content (PNG bytes or UTF-8 SVG text).
        mime: :data:`PNG` or :data:`SVG`.
        width: Pixel width (display width for SVG).
        height: Pixel height.
    """

    name: str
    data: bytes
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class Heading:
    """A section heading; ``anchor`` becomes the HTML id, ``toc`` a shorter contents entry."""

    level: int
    text: str
    anchor: str = ""
    toc: str = ""


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped by the writers)."""

    text: str
    style: Literal["p", "note", "muted"] = "p"


@dataclass(frozen=True)
class Badge:
    """A coloured label, e.g. whether a case was a training scan."""

    text: str
    kind: Literal["train", "heldout", "info", "warn"] = "info"


@dataclass(frozen=True)
class KeyValues:
    """A small two-column fact list (run header)."""

    items: list[tuple[str, str]]


@dataclass(frozen=True)
class Cell:
    """One table cell; ``bold`` marks the best value of its column, ``badge`` styles it as a label."""

    text: str
    bold: bool = False
    badge: Literal["", "train", "heldout", "info", "warn"] = ""


@dataclass(frozen=True)
class Row:
    """A table row; ``highlight`` marks the model's row."""

    cells: list[Cell]
    highlight: bool = False


@dataclass(frozen=True)
class Table:
    """A table with a caption that names its protocol."""

    caption: str
    columns: list[str]
    rows: list[Row]
    numeric_from: int = 1


@dataclass(frozen=True)
class Panel:
    """One labelled image of a panel grid."""

    label: str
    asset: Asset
    sublabel: str = ""
    pixelated: bool = False


@dataclass(frozen=True)
class PanelGrid:
    """Rows of labelled images with ``columns`` images per row."""

    columns: int
    rows: list[list[Panel]]
    caption: str = ""


@dataclass(frozen=True)
class Charts:
    """SVG charts side by side (wrapping), with an optional caption."""

    charts: list[Asset]
    caption: str = ""


Block = Heading | Text | Badge | KeyValues | Table | PanelGrid | Charts


@dataclass
class Document:
    """The whole report: title, blocks in order, and the table of contents entries."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        """Append blocks in order."""
        self.blocks.extend(blocks)

    def assets(self) -> list[Asset]:
        """Every asset of the document, in order of first use, without duplicates."""
        seen: dict[str, Asset] = {}
        for block in self.blocks:
            if isinstance(block, PanelGrid):
                for row in block.rows:
                    for panel in row:
                        seen.setdefault(panel.asset.name, panel.asset)
            elif isinstance(block, Charts):
                for chart in block.charts:
                    seen.setdefault(chart.name, chart)
        return list(seen.values())

    def toc(self) -> list[tuple[int, str, str]]:
        """``(level, text, anchor)`` of every anchored heading of level 2 or 3."""
        return [
            (b.level, b.toc or b.text, b.anchor)
            for b in self.blocks
            if isinstance(b, Heading) and b.anchor and b.level in (2, 3)
        ]
