"""Executed notebook -> self-contained HTML report, with a personal-data guard.

Reports hide code by default (readers want results, not Python); ``show_code=True`` shows
it. Cells can be hidden case by case with the Jupyter Book tags ``remove-cell``,
``remove-input`` and ``remove-output``. Export runs in-process with one cached nbconvert
exporter (no ``jupyter nbconvert`` subprocess per report).

Before anything is written, :func:`find_personal_data` scans every text the report would
show (outputs, Markdown, and code when shown) for personal data with the one detector of
:mod:`crm_research.privacy` (phone numbers, e-mail addresses, IP addresses, ID numbers);
:func:`export_html` raises :class:`PersonalDataError` instead of publishing them. Images
are not scanned (they are pixels, and base64 text would give false alarms).
"""
from __future__ import annotations

import html
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import CRMResearchError
from ..privacy import find_pii_in_text

HIDE_CELL_TAGS = {"remove-cell", "remove_cell"}
HIDE_INPUT_TAGS = {"remove-input", "remove_input", "hide-input", "hide_input"}
HIDE_OUTPUT_TAGS = {"remove-output", "remove_output"}
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"

# --------------------------------------------------------------------------- personal data
@dataclass(frozen=True)
class PIIFinding:
    """Personal data found in a report: where (cell, part), what kind, masked excerpt."""

    cell: int          # 0-based cell index in the notebook
    execution_count: int | None
    part: str          # "output 1 (text/plain)", "stream", "markdown", "code"
    kind: str          # "phone" | "email" | ...
    masked: str        # e.g. 138****5678, j***@example.com

    def __str__(self) -> str:
        where = f"cell {self.cell + 1}" + (f" (In [{self.execution_count}])" if self.execution_count else "")
        return f"{where}, {self.part}: {self.kind} {self.masked}"


class PersonalDataError(CRMResearchError):
    """A report would show personal data (phone numbers, e-mail addresses, IPs, ID numbers)."""

    def __init__(self, findings: list[PIIFinding], source: str = "report"):
        self.findings = findings
        first = "; ".join(str(f) for f in findings[:3])
        more = f" and {len(findings) - 3} more" if len(findings) > 3 else ""
        super().__init__(f"{source}: personal data in the output, not published: {first}{more}",
                         hint="drop or pseudonymize personal columns before displaying data "
                              "(instrument personal_data / crm_research.privacy), or tag the cell remove-output")


def mask(kind: str, text: str) -> str:
    """Mask a detected value so error messages never repeat it."""
    if kind == "email":
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(digits) <= 6:
        return "*" * len(text)
    keep = set(digits[:3] + digits[-4:])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(text))


def scan_text(text: str) -> list[tuple[str, str]]:
    """``[(kind, matched text), ...]`` of personal data in ``text``.

    The detector is :func:`crm_research.privacy.find_pii_in_text` (phone numbers, e-mail
    addresses, IP addresses, ID numbers): the project's one definition of what personal data
    looks like.

    Examples
    --------
    >>> scan_text("call 13812345678 or mail a.b@example.com; sha 9f86d081884c7d65")
    [('phone', '13812345678'), ('email', 'a.b@example.com')]
    """
    return [(str(k), str(v)) for k, v in find_pii_in_text(text)]


_TAG_RE = re.compile(r"<[^>]+>")


def _text_of(data: Any) -> str:
    return "".join(data) if isinstance(data, list) else str(data)


def _cell_texts(cell: Any, include_code: bool) -> Iterable[tuple[str, str]]:
    tags = set(cell.get("metadata", {}).get("tags", []))
    if tags & HIDE_CELL_TAGS:
        return
    if cell.get("cell_type") == "markdown":
        yield "markdown", _text_of(cell.get("source", ""))
        return
    if cell.get("cell_type") != "code":
        return
    if include_code and not tags & HIDE_INPUT_TAGS:
        yield "code", _text_of(cell.get("source", ""))
    if tags & HIDE_OUTPUT_TAGS:
        return
    for k, out in enumerate(cell.get("outputs", []), 1):
        ot = out.get("output_type")
        if ot == "stream":
            yield f"output {k} ({out.get('name', 'stream')})", _text_of(out.get("text", ""))
        elif ot == "error":
            yield f"output {k} (error)", "\n".join([out.get("ename", ""), out.get("evalue", "")]
                                                  + list(out.get("traceback", [])))
        elif ot in ("execute_result", "display_data"):
            for mime, data in out.get("data", {}).items():
                if mime.startswith("image/") or "javascript" in mime or mime.startswith("application/vnd."):
                    continue
                txt = _text_of(data)
                if mime == "text/html" or mime == "image/svg+xml":
                    txt = html.unescape(_TAG_RE.sub(" ", txt))
                yield f"output {k} ({mime})", txt


def find_personal_data(nb: Any, *, include_code: bool = False, extra_texts: Iterable[tuple[str, str]] = ()
                       ) -> list[PIIFinding]:
    """Scan what a report of ``nb`` would show for phone numbers and e-mail addresses.

    Parameters
    ----------
    nb : nbformat.NotebookNode or dict
        The executed notebook.
    include_code : bool
        Also scan code cells' source (when the report shows code).
    extra_texts : list of (part, text)
        Other texts placed in the report (e.g. the header), reported as cell -1.

    Returns
    -------
    list of PIIFinding
    """
    findings: list[PIIFinding] = []
    for i, cell in enumerate(nb.get("cells", [])):
        for part, text in _cell_texts(cell, include_code):
            for kind, value in scan_text(text):
                findings.append(PIIFinding(i, cell.get("execution_count"), part, kind, mask(kind, value)))
    for part, text in extra_texts:
        for kind, value in scan_text(text):
            findings.append(PIIFinding(-1, None, part, kind, mask(kind, value)))
    return findings


def redact_personal_data(nb: Any) -> int:
    """Replace detected personal data in ``nb`` (outputs, Markdown, code) in place; returns the count.

    Used to keep a failed run's notebook for debugging without keeping the personal data.
    """
    count = 0

    def fix(text: str) -> str:
        nonlocal count
        for kind, value in scan_text(text):
            text = text.replace(value, f"[{kind} redacted]")
            count += 1
        return text

    for cell in nb.get("cells", []):
        if cell.get("cell_type") in ("markdown", "code"):
            cell["source"] = fix(_text_of(cell.get("source", "")))
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = fix(_text_of(out["text"]))
            if "traceback" in out:
                out["traceback"] = [fix(t) for t in out["traceback"]]
            if "evalue" in out:
                out["evalue"] = fix(out["evalue"])
            for mime, data in list(out.get("data", {}).items()):
                if not mime.startswith("image/") and isinstance(data, (str, list)):
                    out["data"][mime] = fix(_text_of(data))
    return count


# --------------------------------------------------------------------------- HTML export
_EXPORTERS: dict[bool, Any] = {}
_EXPORT_LOCK = threading.RLock()  # nbconvert exporters are not meant for concurrent use


def _exporter(show_code: bool):
    """A cached nbconvert HTMLExporter ('basic' markup: our page and CSS wrap it)."""
    with _EXPORT_LOCK:
        return _make_exporter(show_code)


def warm_up(show_code: bool = False) -> None:
    """Import nbconvert and compile the report template now, so the first report is fast.

    Batch workers call it in a background thread while their first notebook executes.
    Safe to call from several threads (the exporter is built under the export lock).

    Parameters
    ----------
    show_code : bool
        Warm the exporter that shows code (``True``) or the one that hides it (default).

    Returns
    -------
    None
    """
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell("1")])
    with _EXPORT_LOCK:
        _exporter(show_code).from_notebook_node(nb)


def _make_exporter(show_code: bool):
    if show_code not in _EXPORTERS:
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor
        from traitlets.config import Config

        cfg = Config()
        cfg.TagRemovePreprocessor.enabled = True
        cfg.TagRemovePreprocessor.remove_cell_tags = set(HIDE_CELL_TAGS) | {PAPERMILL_ERROR_TAG}
        cfg.TagRemovePreprocessor.remove_input_tags = set(HIDE_INPUT_TAGS)
        cfg.TagRemovePreprocessor.remove_all_outputs_tags = set(HIDE_OUTPUT_TAGS)
        ex = HTMLExporter(config=cfg, template_name="basic", exclude_input=not show_code,
                          exclude_input_prompt=True, exclude_output_prompt=True)
        ex.register_preprocessor(TagRemovePreprocessor(config=cfg), enabled=True)
        _EXPORTERS[show_code] = ex
    return _EXPORTERS[show_code]


def notebook_title(nb: Any, default: str = "Report") -> str:
    """The first Markdown level-1 heading of the notebook, else ``default``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _text_of(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def _needs_mathjax(nb: Any) -> bool:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = _text_of(cell.get("source", ""))
            if re.search(r"\$[^$\s][^$]*\$|\\\(|\\\[", src):
                return True
    return False


MATHJAX = ('<script>window.MathJax={tex:{inlineMath:[["$","$"],["\\\\(","\\\\)"]]}};</script>'
           '<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>')


def current_umask() -> int:
    """The process's file-creation mask (e.g. ``0o022``), read without changing it.

    Linux reports it in ``/proc/self/status``; elsewhere it is read with :func:`os.umask`
    (set and restored at once).

    Examples
    --------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write via a temporary file in the same folder and rename (no half-written file).

    The file gets the mode an ordinary new file gets (``0o666`` less the umask: ``0o644``
    under the usual umask ``022``), not the private ``0o600`` of a temporary file, so a
    shared report folder stays readable by colleagues and web servers.

    Examples
    --------
    >>> import stat, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = write_text_atomic(Path(tmp) / "index.html", "<p>hi</p>")
    ...     stat.S_IMODE(p.stat().st_mode) == 0o666 & ~current_umask()
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def export_html(nb: Any, path: str | os.PathLike | None = None, *, show_code: bool = False,
                title: str | None = None, header_html: str = "", footer_html: str = "",
                check_personal_data: bool = True, header_text: str = "", source: str | None = None) -> str:
    """Render an executed notebook as one self-contained HTML page.

    Parameters
    ----------
    nb : nbformat.NotebookNode, dict, or path of an ``.ipynb``
    path : path, optional
        Where to write the page (atomically). The HTML is returned either way.
    show_code : bool
        Show code cells (default: hidden; outputs and Markdown only).
    title : str, optional
        Page title (default: the notebook's first ``#`` heading).
    header_html, footer_html : str
        Trusted HTML placed before / after the notebook body (run banner, links).
    check_personal_data : bool
        Refuse (raise :class:`PersonalDataError`) when the report would show phone numbers or
        e-mail addresses. Leave on.
    header_text : str
        Plain text of ``header_html`` to include in the personal-data scan.
    source : str, optional
        How to name the report in a :class:`PersonalDataError` (default: ``path``).

    Returns
    -------
    str
        The HTML page.
    """
    import nbformat

    from .style import CODE_CSS, REPORT_CSS

    if isinstance(nb, (str, os.PathLike)):
        nb = nbformat.read(os.fspath(nb), as_version=4)
    elif not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.from_dict(nb)
    if check_personal_data:
        findings = find_personal_data(nb, include_code=show_code,
                                      extra_texts=[("header", header_text)] if header_text else ())
        if findings:
            raise PersonalDataError(findings, source=source or (str(path) if path else "report"))
    with _EXPORT_LOCK:
        body, _ = _exporter(show_code).from_notebook_node(nb)
    title = title or notebook_title(nb)
    css = REPORT_CSS + (CODE_CSS if show_code else "")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"generator\" content=\"crm-research\">"
            f"<title>{html.escape(title)}</title><style>{css}</style>"
            + (MATHJAX if _needs_mathjax(nb) else "") +
            f"</head><body><main class=\"crm-page\">{header_html}\n<article class=\"crm-notebook\">\n{body}\n"
            f"</article>{footer_html}</main></body></html>\n")
    if path is not None:
        write_text_atomic(path, page)
    return page
