"""Visual reports: a self-contained HTML page and its Markdown twin for medsr output folders.

``build_report(DIR)`` reads what ``medsr demo``, ``medsr evaluate`` or ``medsr train`` wrote
(saved JSON, NIfTI volumes and logs; never live objects) and writes ``report.html``,
``report.md`` and ``report_files/``. Charts are hand-written SVG and image panels are PNGs drawn
with numpy and Pillow, so the report needs no plotting library and loads nothing external.
"""

from medsr.report.build import ReportResult, build_document, build_report

__all__ = ["ReportResult", "build_document", "build_report"]
