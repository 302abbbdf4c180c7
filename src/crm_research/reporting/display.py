"""Objects a notebook displays: Markdown text, collapsible blocks, lavaan syntax, the
questionnaire, path diagrams and a prominent box of estimation warnings.

Every object shows as rich output in Jupyter (``_repr_markdown_`` / ``_repr_html_``) and as
plain text elsewhere, so the same call works in a notebook, a batch report and a terminal.

Examples
--------
>>> from crm_research.reporting.display import Narrative, warnings_box
>>> Narrative("**Fit.** CFI = .97.")
**Fit.** CFI = .97.
>>> warnings_box(["model m1: Heywood case"], None).messages
['model m1: Heywood case']
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

__all__ = ["Narrative", "HTMLBlock", "details", "syntax_block", "questionnaire_frame", "show_diagram",
           "WarningsBox", "warnings_box", "r2_labels"]


class Narrative(str):
    """Text written from computed numbers; shows as Markdown in a notebook.

    Examples
    --------
    >>> Narrative.concat(["One.", "", "Two."])
    One. Two.
    """

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:  # plain-text fallback without quotes
        return str(self)

    @classmethod
    def concat(cls, parts: Any, sep: str = " ") -> "Narrative":
        """Join the non-empty parts (str or Narrative) with ``sep``."""
        return cls(sep.join(str(p) for p in parts if p))


@dataclass
class HTMLBlock:
    """A piece of HTML with a plain-text stand-in."""

    html: str
    text: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or "(HTML)"


def details(obj: Any, summary: str, *, open: bool = False) -> HTMLBlock:  # noqa: A002 - HTML attribute name
    """Wrap an object's HTML in a collapsible ``<details>`` block (e.g. a long report).

    Examples
    --------
    >>> details("x < y", "Show").html.startswith("<details>")
    True
    """
    body = obj._repr_html_() if hasattr(obj, "_repr_html_") else f"<pre>{html.escape(str(obj))}</pre>"
    return HTMLBlock(f"<details{' open' if open else ''}><summary style='cursor:pointer;font-weight:600'>"
                     f"{html.escape(summary)}</summary>{body}</details>", text=summary)


def syntax_block(syntax: str, title: str | None = None) -> Narrative:
    """lavaan model syntax as a Markdown code block.

    Examples
    --------
    >>> print(syntax_block("F =~ x1 + x2", "Model:"))
    Model:
    <BLANKLINE>
    ```
    F =~ x1 + x2
    ```
    """
    head = f"{title}\n\n" if title else ""
    return Narrative(f"{head}```\n{syntax.rstrip()}\n```")


def questionnaire_frame(instrument: Any, lang: str = "both", height: int = 560) -> HTMLBlock:
    """The printable questionnaire embedded in an ``<iframe>`` (its page styles stay inside)."""
    from ..instruments import questionnaire_html

    page = questionnaire_html(instrument, lang)
    return HTMLBlock(f'<iframe title="questionnaire" srcdoc="{html.escape(page, quote=True)}" '
                     f'style="width:100%;height:{int(height)}px;border:1px solid #d9e2ec;border-radius:6px">'
                     "</iframe>", text=f"questionnaire of {instrument.id} ({lang})")


def show_diagram(diagram: Any, max_width: str = "100%") -> HTMLBlock:
    """A path diagram (anything with an ``svg`` attribute) scaled to the page width."""
    svg = diagram.svg
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    return HTMLBlock("<style>.crm-diagram svg{max-width:100%;height:auto}</style>"
                     f"<div class='crm-diagram' style='max-width:{html.escape(max_width)}'>{svg}</div>",
                     text="path diagram")


@dataclass
class WarningsBox:
    """Estimation warnings collected from several results, shown prominently."""

    messages: list[str]
    title: str = "Estimation warnings"

    def __bool__(self) -> bool:
        return bool(self.messages)

    def __repr__(self) -> str:
        if not self.messages:
            return "No estimation warnings."
        return f"{self.title} ({len(self.messages)}):\n" + "\n".join(f"  ! {m}" for m in self.messages)

    def _repr_html_(self) -> str:
        if not self.messages:
            return ("<div class='crm-warnings none' style='margin:8px 0;padding:6px 12px;border-left:4px solid "
                    "#1f7a4d;background:#e3f4ea;color:#1f7a4d'>No estimation warnings: the models converged "
                    "and every estimate is admissible.</div>")
        items = "".join(f"<li>{html.escape(m)}</li>" for m in self.messages)
        return ("<div class='crm-warnings' role='alert' style='margin:10px 0;padding:10px 14px;"
                "border:2px solid #b42318;border-radius:6px;background:#fdecea;color:#7a1a12'>"
                f"<b>&#9888; {html.escape(self.title)} ({len(self.messages)})</b> &mdash; read these before "
                f"interpreting the results:<ul style='margin:6px 0 0'>{items}</ul></div>")


def warnings_box(*sources: Any, title: str = "Estimation warnings") -> WarningsBox:
    """Collect warnings from fitted models, measurement reports, hypothesis tests or lists of text.

    Duplicates are shown once, in first-seen order; ``None`` sources are skipped.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> warnings_box(SimpleNamespace(warnings=["a", "b"]), ["b", "c"]).messages
    ['a', 'b', 'c']
    """
    msgs: list[str] = []
    for s in sources:
        if s is None:
            continue
        if isinstance(s, str):
            msgs.append(s)
        elif isinstance(s, (list, tuple)):
            msgs += [str(x) for x in s]
        else:
            msgs += [str(x) for x in (getattr(s, "warnings", None) or [])]
    return WarningsBox(list(dict.fromkeys(msgs)), title=title)


def r2_labels(r2: Any) -> dict[str, str]:
    """Path-diagram node labels that show each outcome's R² under its name.

    Examples
    --------
    >>> r2_labels({"Y": 0.391})
    {'Y': 'Y\\nR² = .39'}
    """
    from .format import format_number

    return {str(y): f"{y}\nR² = {format_number(v, 2, bounded=True)}" for y, v in dict(r2).items()}
