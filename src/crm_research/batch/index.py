"""The batch's overview: ``index.html``, the tidy results table, stacked recorded tables,
and the banner at the top of every run report.

Everything here reads run records (the ``run.json`` of each run, see
:mod:`crm_research.batch.runner`) and writes files; nothing executes notebooks.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..reporting.results import format_value

RESERVED = ("run", "notebook", "status", "key", "label", "value", "value_text", "unit")


def _e(x: Any) -> str:
    return html.escape(str(x))


def fmt_duration(seconds: float | None) -> str:
    """``4.2 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds is None:
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def param_text(value: Any) -> str:
    """Compact display of a parameter value (paths by file name)."""
    if isinstance(value, str):
        if "/" in value or os.sep in value:
            return Path(value).name or value
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        s = json.dumps(value, ensure_ascii=False)
        return s if len(s) <= 40 else s[:37] + "…"
    return str(value)


def param_chips(params: Mapping[str, Any]) -> str:
    return "".join(f'<span class="crm-chip" title="{_e(k)} = {_e(json.dumps(v, ensure_ascii=False))}">'
                   f"<b>{_e(k)}</b>{_e(param_text(v))}</span>" for k, v in params.items())


def headline_html(results: Iterable[Mapping[str, Any]], limit: int = 8) -> str:
    items = [r for r in results if r.get("headline", True)]
    out = []
    for r in items[:limit]:
        txt = format_value(r.get("value"), r.get("decimals"), bool(r.get("bounded")), r.get("unit"))
        out.append(f'<span class="crm-figure"><span class="k">{_e(r.get("label") or r["key"])}</span>'
                   f'<span class="v">{_e(txt)}</span></span>')
    if len(items) > limit:
        out.append(f'<span class="crm-muted">+{len(items) - limit} more</span>')
    return "".join(out)


def status_badge(rec: Mapping[str, Any]) -> str:
    st = rec.get("status", "pending")
    if st == "failed" and rec.get("expect_failure"):
        return '<span class="crm-badge expected" title="deliberate failure, labelled in the config">failed as expected</span>'
    label = {"ok": "ok", "failed": "failed", "pending": "not run"}.get(st, st)
    return f'<span class="crm-badge {_e(st)}">{_e(label)}</span>'


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        t = _dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
        return t.strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


# --------------------------------------------------------------------------- report banner
def run_header(rec: Mapping[str, Any], *, title: str, batch_title: str, index_href: str,
               show_code: bool) -> tuple[str, str]:
    """(HTML, plain text) of the banner on top of a run report."""
    files = rec.get("files", {})
    links = [f'<a href="{_e(index_href)}">← all runs</a>']
    if files.get("notebook"):
        links.append(f'<a href="{_e(Path(files["notebook"]).name)}">notebook (.ipynb)</a>')
    if files.get("log"):
        links.append(f'<a href="{_e(Path(files["log"]).name)}">log</a>')
    meta = [status_badge(rec), f"<span>notebook <code>{_e(rec.get('notebook', ''))}</code></span>",
            f"<span>{_e(_when(rec.get('finished')))}</span>", f"<span>{_e(fmt_duration(rec.get('duration')))}</span>",
            f"<span>{'code shown' if show_code else 'code hidden'}</span>"]
    alert = ""
    err = rec.get("error")
    if rec.get("status") == "failed" and err:
        prev = rec.get("previous_ok")
        prev_html = (f'<div class="crm-muted" style="margin-top:6px">The last successful result of this run '
                     f'is kept: <a href="{_e(prev)}">previous report</a>.</div>') if prev else ""
        expected = " This run is a deliberate failure, labelled in the batch config." if rec.get("expect_failure") else ""
        alert = (f'<div class="crm-alert"><b>This run failed.</b>{_e(expected)} The notebook below is the partial '
                 f'result up to the failing cell.<pre>{_e(err.get("message", ""))}</pre>{prev_html}</div>')
    desc = f'<div class="crm-muted" style="margin-top:4px">{_e(rec["description"])}</div>' if rec.get("description") else ""
    h = (f'<header class="crm-header"><div class="crumbs">{_e(batch_title)} · {" · ".join(links)}</div>'
         f'<div class="runline"><span class="runlabel">run</span> <span class="runname">{_e(rec.get("run", ""))}</span>'
         f'</div><div class="meta">{"".join(meta)}</div>{desc}'
         f'<div class="params">{param_chips(rec.get("parameters", {}))}</div>{alert}</header>')
    text = " ".join([batch_title, str(rec.get("run", "")), title, json.dumps(rec.get("parameters", {}), ensure_ascii=False),
                     (err or {}).get("message", "") if err else "", rec.get("description") or ""])
    return h, text


def run_footer(rec: Mapping[str, Any]) -> str:
    from .. import __version__

    return (f'<footer class="crm-footer">crm-research {_e(__version__)} · batch run <code>{_e(rec.get("run", ""))}</code>'
            f' · key <code>{_e(str(rec.get("key", "")))}</code></footer>')


# --------------------------------------------------------------------------- index.html
def write_index(path: Path, *, batch: str, title: str | None, description: str | None, config_label: str,
                records: list[Mapping[str, Any]], downloads: Mapping[str, str], workers: int | None = None,
                wall_seconds: float | None = None) -> Path:
    """Write ``index.html`` listing every run (config order) with status, parameters,
    headline figures, duration and links."""
    from .. import __version__
    from ..reporting.export import write_text_atomic
    from ..reporting.style import INDEX_CSS

    n = len(records)
    ok = sum(r.get("status") == "ok" for r in records)
    failed = sum(r.get("status") == "failed" and not r.get("expect_failure") for r in records)
    expected = sum(r.get("status") == "failed" and bool(r.get("expect_failure")) for r in records)
    pending = n - ok - failed - expected
    reused = sum(r.get("action") == "reused" for r in records)
    total_run = sum(float(r.get("duration") or 0) for r in records if r.get("action") == "ran")
    stats = [("runs", n, ""), ("succeeded", ok, "ok"), ("failed", failed, "failed" if failed else "")]
    if expected:
        stats.append(("failed as expected", expected, ""))
    if pending:
        stats.append(("not run", pending, ""))
    stats.append(("reused (unchanged)", reused, ""))
    stat_html = "".join(f'<div class="crm-stat {cls}"><div class="n">{v}</div><div class="l">{_e(k)}</div></div>'
                        for k, v, cls in stats)
    dl = " ".join(f'<a href="{_e(href)}">{_e(label)}</a>' for label, href in downloads.items())
    shared = _shared_parameters(records)
    shared_html = (f'<div class="crm-shared">Parameters of every run: {param_chips(shared)}</div>'
                   if shared else "")
    rows = []
    for r in records:
        st = r.get("status", "pending")
        files = r.get("files", {})
        links = []
        if files.get("html"):
            links.append(f'<a href="{_e(files["html"])}">report</a>')
        if files.get("notebook"):
            links.append(f'<a href="{_e(files["notebook"])}">notebook</a>')
        if files.get("log"):
            links.append(f'<a href="{_e(files["log"])}">log</a>')
        extra = ""
        if st == "failed":
            err = (r.get("error") or {}).get("message", "")
            extra += f'<div class="err">{_e(err)}</div>'
            if r.get("previous_ok"):
                links.append(f'<a href="{_e(r["previous_ok"])}" title="last successful result, for the previous '
                             f'inputs">previous report</a>')
        if r.get("action") == "reused":
            extra += f'<div class="note">unchanged since {_e(_when(r.get("finished")))}: reused</div>'
        desc = f'<div class="desc">{_e(r["description"])}</div>' if r.get("description") else ""
        rows.append(
            f'<tr class="{_e(st)}"><td>{status_badge(r)}</td>'
            f'<td class="run"><div class="name">{_e(r.get("run", ""))}</div><div class="nb">{_e(r.get("notebook", ""))}'
            f"</div>{desc}</td><td>{param_chips({k: v for k, v in r.get('parameters', {}).items() if k not in shared})}</td>"
            f"<td>{headline_html(r.get('results', [])) if st == 'ok' else ''}{extra}</td>"
            f'<td class="dur">{_e(fmt_duration(r.get("duration")) if st != "pending" else "—")}</td>'
            f'<td class="links">{" ".join(links)}</td></tr>')
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    timing = ""
    if wall_seconds is not None:
        timing = (f" · this invocation: {fmt_duration(wall_seconds)} wall time for {fmt_duration(total_run)} of runs"
                  + (f" on {workers} worker{'s' if workers != 1 else ''}" if workers else ""))
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title or batch)} · crm-research batch</title><style>{INDEX_CSS}</style></head><body>"
        f'<main class="crm-page"><header class="crm-index"><div class="crm-muted" style="font-size:13px">'
        f"crm-research batch <code>{_e(batch)}</code></div><h1>{_e(title or batch)}</h1>"
        + (f'<p class="desc">{_e(description)}</p>' if description else "")
        + f'<div class="crm-stats">{stat_html}</div>{shared_html}<div class="crm-downloads">Results of all runs: {dl}</div></header>'
        '<table class="crm-runs"><colgroup><col style="width:7.5em"><col style="width:22%"><col style="width:18%">'
        '<col><col style="width:6.5em"><col style="width:13em"></colgroup><thead><tr><th>Status</th><th>Run</th><th>Parameters</th><th>Key results</th>'
        f'<th style="text-align:right">Duration</th><th>Files</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f'<footer class="crm-footer">Generated {now} by crm-research {_e(__version__)} from '
        f"<code>{_e(config_label)}</code>{_e(timing)}. Re-running the same command re-executes only runs whose "
        "notebook, parameters, input files or package changed.</footer></main></body></html>\n")
    return write_text_atomic(path, page)


def _shared_parameters(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Parameters with the same value in every run (shown once above the table)."""
    if len(records) < 2:
        return {}
    first = records[0].get("parameters", {})
    return {k: v for k, v in first.items()
            if all(k in r.get("parameters", {}) and r["parameters"][k] == v for r in records[1:])}


# --------------------------------------------------------------------------- results tables
def results_frame(records: list[Mapping[str, Any]]):
    """Tidy table of recorded key results of successful runs.

    Columns: ``run, notebook``, one column per parameter (values as written in the config;
    lists/mappings as JSON text; a parameter named like a fixed column gets a ``param_``
    prefix), then ``key, label, value`` (numeric; booleans as 0/1), ``value_text``
    (the value as text, for non-numeric results) and ``unit``.
    """
    import pandas as pd

    ok = [r for r in records if r.get("status") == "ok"]
    pnames: list[str] = []
    for r in ok:
        for k in r.get("parameters", {}):
            if k not in pnames:
                pnames.append(k)
    col = {k: (f"param_{k}" if k in RESERVED else k) for k in pnames}
    rows = []
    for r in ok:
        params = r.get("parameters", {})
        base = {"run": r["run"], "notebook": r.get("notebook")}
        for k in pnames:
            v = params.get(k)
            base[col[k]] = json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
        for rec in r.get("results", []):
            v = rec.get("value")
            num = float(v) if isinstance(v, (int, float)) and v is not None else None
            rows.append({**base, "key": rec["key"], "label": rec.get("label"), "value": num,
                         "value_text": None if v is None else (("true" if v else "false") if isinstance(v, bool) else str(v)),
                         "unit": rec.get("unit")})
    columns = ["run", "notebook", *col.values(), "key", "label", "value", "value_text", "unit"]
    df = pd.DataFrame(rows, columns=columns)
    for k, c in col.items():  # mixed types (int and text) cannot go to Parquet
        kinds = {type(r.get("parameters", {})[k]) for r in ok
                 if r.get("parameters", {}).get(k) is not None}
        kinds = {str if t in (list, dict) else t for t in kinds}
        if len(kinds) > 1 and not kinds <= {int, float}:
            df[c] = df[c].map(lambda v: None if v is None else str(v))
        elif kinds == {int}:  # whole numbers stay whole where some runs lack the parameter
            df[c] = df[c].astype("Int64")
        elif kinds == {bool}:
            df[c] = df[c].astype("boolean")
    df["value"] = df["value"].astype("float64")
    for c in ("run", "notebook", "key", "label", "value_text", "unit"):
        df[c] = df[c].astype("string")
    return df


def write_results(out_dir: Path, records: list[Mapping[str, Any]]) -> dict[str, Path]:
    """Write ``results.csv``/``.parquet`` and ``tables/<name>.csv``/``.parquet``."""
    import pandas as pd

    written: dict[str, Path] = {}
    df = results_frame(records)
    for ext in ("csv", "parquet"):
        tmp = out_dir / f".results.{ext}.tmp"
        (df.to_csv(tmp, index=False) if ext == "csv" else df.to_parquet(tmp, index=False))
        os.replace(tmp, out_dir / f"results.{ext}")
        written[f"results.{ext}"] = out_dir / f"results.{ext}"
    tables: dict[str, list[Any]] = {}
    for r in records:
        if r.get("status") != "ok":
            continue
        run_dir = out_dir / "runs" / r["run"] / "results"
        for name in r.get("tables", []):
            p = run_dir / f"{name}.parquet"
            if p.exists():
                t = pd.read_parquet(p)
                t.insert(0, "notebook", r.get("notebook"))
                t.insert(0, "run", r["run"])
                tables.setdefault(name, []).append(t)
    tdir = out_dir / "tables"
    if tables:
        tdir.mkdir(exist_ok=True)
    for name, parts in tables.items():
        t = pd.concat(parts, ignore_index=True, sort=False)
        for c in t.columns:
            if t[c].dtype == object:
                kinds = {type(v) for v in t[c].dropna()}
                if len(kinds) > 1:
                    t[c] = t[c].map(lambda v: None if v is None else str(v))
        for ext in ("csv", "parquet"):
            tmp = tdir / f".{name}.{ext}.tmp"
            (t.to_csv(tmp, index=False) if ext == "csv" else t.to_parquet(tmp, index=False))
            os.replace(tmp, tdir / f"{name}.{ext}")
            written[f"tables/{name}.{ext}"] = tdir / f"{name}.{ext}"
    if tdir.is_dir():  # tables no run records any more
        for p in tdir.iterdir():
            if p.suffix in (".csv", ".parquet") and p.stem not in tables:
                p.unlink()
    return written
