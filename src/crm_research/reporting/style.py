"""CSS shared by every HTML page crm-research writes (reports, batch index, APA tables).

Kept as Python strings (not package data files) so a report is one self-contained HTML file
and nothing depends on how the package was installed. One palette, one type scale:
system fonts, tabular figures in tables, horizontal rules only (APA style), print-friendly.
"""
from __future__ import annotations

#: Colours and fonts used everywhere (custom properties, so a user stylesheet can override them).
BASE_CSS = """
:root {
  --crm-fg: #1f2933; --crm-muted: #616e7c; --crm-faint: #9aa5b1; --crm-bg: #ffffff;
  --crm-panel: #f5f7fa; --crm-rule: #d9e2ec; --crm-accent: #2f5d8a; --crm-accent-soft: #e6eef7;
  --crm-ok: #1f7a4d; --crm-ok-soft: #e3f4ea; --crm-fail: #b42318; --crm-fail-soft: #fdecea;
  --crm-warn: #8a5a00; --crm-warn-soft: #fff4de;
  --crm-sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
              "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
  --crm-mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--crm-bg); color: var(--crm-fg); font-family: var(--crm-sans);
       font-size: 15px; line-height: 1.55; }
a { color: var(--crm-accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, kbd { font-family: var(--crm-mono); font-size: 0.86em; }
.crm-page { max-width: 1120px; margin: 0 auto; padding: 28px 32px 56px; }
.crm-muted { color: var(--crm-muted); }
.crm-badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
             font-weight: 600; letter-spacing: .02em; white-space: nowrap; }
.crm-badge.ok { background: var(--crm-ok-soft); color: var(--crm-ok); }
.crm-badge.failed { background: var(--crm-fail-soft); color: var(--crm-fail); }
.crm-badge.expected { background: var(--crm-warn-soft); color: var(--crm-warn); }
.crm-badge.pending { background: var(--crm-panel); color: var(--crm-muted); }
.crm-chip { display: inline-block; margin: 1px 4px 1px 0; padding: 0 7px; border-radius: 4px;
            background: var(--crm-panel); border: 1px solid var(--crm-rule); font-size: 12px;
            line-height: 20px; white-space: nowrap; max-width: 100%; overflow: hidden;
            text-overflow: ellipsis; vertical-align: middle; }
.crm-chip b { font-weight: 600; color: var(--crm-muted); margin-right: 4px; }
.crm-figure { display: inline-block; margin: 2px 10px 2px 0; white-space: nowrap; }
.crm-figure .k { color: var(--crm-muted); font-size: 12px; margin-right: 4px; }
.crm-figure .v { font-weight: 650; font-variant-numeric: tabular-nums; }
@media print { .crm-page { padding: 0; max-width: none; } a { color: inherit; } }
"""

#: APA-style tables: horizontal rules only, title above in italics, note below.
TABLE_CSS = """
.apa { margin: 18px 0 26px; max-width: 100%; overflow-x: auto; }
.apa .apa-number { font-weight: 700; margin: 0; }
.apa .apa-title { font-style: italic; margin: 0 0 6px; }
.apa table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 14px;
             border-top: 2px solid var(--crm-fg, #1f2933); border-bottom: 2px solid var(--crm-fg, #1f2933); }
.apa thead th { border-bottom: 1px solid var(--crm-fg, #1f2933); font-weight: 600; text-align: center;
                padding: 6px 12px; vertical-align: bottom; }
.apa tbody td { padding: 4px 12px; text-align: right; white-space: nowrap; }
.apa tbody td.text { text-align: left; white-space: normal; }
.apa tbody tr.group td { font-style: italic; text-align: left; padding-top: 9px; }
.apa .apa-note { font-size: 13px; margin: 6px 0 0; max-width: 60em; }
.apa .apa-note i { margin-right: 4px; }
"""

#: Everything inside an exported notebook report (nbconvert "basic" markup + our page).
REPORT_CSS = BASE_CSS + TABLE_CSS + """
.crm-header { border-bottom: 1px solid var(--crm-rule); margin-bottom: 22px; padding-bottom: 14px; }
.crm-header .crumbs { font-size: 13px; color: var(--crm-muted); margin-bottom: 4px; }
.crm-header .runline { margin: 2px 0 6px; }
.crm-header .runlabel { font-size: 13px; color: var(--crm-muted); text-transform: uppercase; letter-spacing: .06em; }
.crm-header .runname { font-size: 20px; font-weight: 650; font-family: var(--crm-mono); }
.crm-header .meta { font-size: 13px; color: var(--crm-muted); }
.crm-header .meta > span { margin-right: 14px; }
.crm-header .params { margin-top: 8px; }
.crm-alert { border-left: 4px solid var(--crm-fail); background: var(--crm-fail-soft); padding: 10px 14px;
             margin: 14px 0; border-radius: 4px; font-size: 14px; }
.crm-alert.warn { border-left-color: var(--crm-warn); background: var(--crm-warn-soft); }
.crm-alert pre { margin: 6px 0 0; white-space: pre-wrap; }
/* notebook cells (nbconvert basic template) */
.cell { margin: 0 0 6px; }
.cell:empty, .output_wrapper:empty, .output:empty { display: none; }
.text_cell_render { max-width: 48em; }
.text_cell_render h1 { font-size: 24px; margin: 30px 0 10px; font-weight: 650; }
.text_cell_render h2 { font-size: 20px; margin: 28px 0 8px; font-weight: 650;
                       padding-bottom: 4px; border-bottom: 1px solid var(--crm-rule); }
.text_cell_render h3 { font-size: 17px; margin: 22px 0 6px; font-weight: 650; }
.text_cell_render p, .text_cell_render li { max-width: 48em; }
.text_cell_render blockquote { margin: 10px 0; padding: 4px 14px; border-left: 3px solid var(--crm-rule);
                               color: var(--crm-muted); }
.text_cell_render table { border-collapse: collapse; margin: 10px 0; font-size: 14px; }
.text_cell_render th, .text_cell_render td { padding: 4px 10px; border-bottom: 1px solid var(--crm-rule);
                                             text-align: left; }
.text_cell_render th { border-bottom: 1px solid var(--crm-fg); }
.anchor-link { display: none; }
.input { margin: 10px 0 4px; }
.input_area { background: var(--crm-panel); border: 1px solid var(--crm-rule); border-radius: 6px;
              padding: 8px 12px; overflow-x: auto; }
.input_area pre { margin: 0; font-size: 13px; line-height: 1.45; }
.prompt { display: none; }
.output_area { margin: 4px 0 10px; overflow-x: auto; }
.output_subarea pre, .output_text pre { margin: 0; white-space: pre-wrap; word-break: break-word;
                                        font-size: 13px; line-height: 1.45; }
.output_stream.output_stderr { background: var(--crm-warn-soft); padding: 6px 10px; border-radius: 4px; }
.output_error pre { background: var(--crm-fail-soft); padding: 8px 12px; border-radius: 4px; }
.output_png img, .output_jpeg img, .output_svg svg { max-width: 100%; height: auto; }
table.dataframe { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums;
                  margin: 6px 0 12px; border-top: 1px solid var(--crm-fg); border-bottom: 1px solid var(--crm-fg); }
table.dataframe th, table.dataframe td { padding: 4px 10px; border: none; text-align: right; }
table.dataframe thead th { border-bottom: 1px solid var(--crm-fg); font-weight: 600; }
table.dataframe tbody th { text-align: left; font-weight: 600; }
table.dataframe tbody tr:nth-child(even) { background: #fafbfc; }
.crm-footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--crm-rule);
              font-size: 12px; color: var(--crm-faint); }
/* ANSI colours used in tracebacks */
.ansi-red-fg, .ansi-red-intense-fg { color: #b42318; } .ansi-green-fg, .ansi-green-intense-fg { color: #1f7a4d; }
.ansi-yellow-fg, .ansi-yellow-intense-fg { color: #8a5a00; } .ansi-blue-fg, .ansi-blue-intense-fg { color: #2f5d8a; }
.ansi-cyan-fg, .ansi-cyan-intense-fg { color: #0e7490; } .ansi-magenta-fg { color: #86198f; }
.ansi-bold { font-weight: 700; }
/* provenance and recorded results */
.crm-provenance { margin: 28px 0 10px; border: 1px solid var(--crm-rule); border-radius: 8px;
                  padding: 12px 16px; background: var(--crm-panel); font-size: 13px; }
.crm-provenance h4 { margin: 0 0 8px; font-size: 14px; }
.crm-provenance table { border-collapse: collapse; }
.crm-provenance th { text-align: left; font-weight: 600; color: var(--crm-muted); padding: 2px 14px 2px 0;
                     vertical-align: top; white-space: nowrap; }
.crm-provenance td { padding: 2px 0; vertical-align: top; word-break: break-all; }
.crm-provenance code { font-size: 12px; }
.crm-record { display: inline-flex; align-items: baseline; gap: 8px; margin: 4px 0; padding: 4px 12px;
              border: 1px solid var(--crm-rule); border-radius: 6px; background: var(--crm-bg); }
.crm-record .k { color: var(--crm-muted); font-size: 13px; }
.crm-record .v { font-weight: 650; font-size: 16px; font-variant-numeric: tabular-nums; }
"""

#: Pygments colours for code when reports show code (``--show-code``).
CODE_CSS = """
.highlight .c, .highlight .c1, .highlight .cm { color: #6b7785; font-style: italic; }
.highlight .k, .highlight .kn, .highlight .kd, .highlight .ow, .highlight .kc { color: #7c3aed; font-weight: 600; }
.highlight .s, .highlight .s1, .highlight .s2, .highlight .sa, .highlight .se, .highlight .si { color: #1f7a4d; }
.highlight .mi, .highlight .mf, .highlight .m { color: #b45309; }
.highlight .nf, .highlight .fm { color: #2f5d8a; } .highlight .nb, .highlight .bp { color: #0e7490; }
.highlight .o { color: #475569; }
"""

#: The batch index page.
INDEX_CSS = BASE_CSS + """
.crm-page { max-width: 1320px; }
header.crm-index { margin-bottom: 20px; }
header.crm-index h1 { font-size: 28px; margin: 0 0 4px; font-weight: 680; }
header.crm-index .desc { color: var(--crm-muted); max-width: 60em; margin: 0 0 12px; }
.crm-stats { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0 6px; }
.crm-stat { border: 1px solid var(--crm-rule); border-radius: 8px; padding: 8px 16px; min-width: 120px; }
.crm-stat .n { font-size: 22px; font-weight: 680; font-variant-numeric: tabular-nums; }
.crm-stat .l { font-size: 12px; color: var(--crm-muted); text-transform: uppercase; letter-spacing: .05em; }
.crm-stat.failed .n { color: var(--crm-fail); } .crm-stat.ok .n { color: var(--crm-ok); }
.crm-downloads { font-size: 13px; margin: 10px 0 18px; color: var(--crm-muted); }
.crm-shared { font-size: 13px; margin: 12px 0 0; color: var(--crm-muted); }
.crm-downloads a { margin-right: 12px; }
table.crm-runs { width: 100%; border-collapse: collapse; font-size: 14px; }
table.crm-runs thead th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: .05em;
                          color: var(--crm-muted); font-weight: 600; padding: 8px 10px;
                          border-bottom: 2px solid var(--crm-rule); position: sticky; top: 0; background: #fff; }
table.crm-runs td { padding: 10px 10px; border-bottom: 1px solid var(--crm-rule); vertical-align: top; }
table.crm-runs tr.failed td { background: #fffafa; }
table.crm-runs td.run .name { font-weight: 650; }
table.crm-runs td.run .nb { font-size: 12px; color: var(--crm-muted); }
table.crm-runs td.run .desc { font-size: 12px; color: var(--crm-muted); margin-top: 2px; max-width: 26em; }
table.crm-runs td.dur { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;
                        color: var(--crm-muted); }
table.crm-runs td.links { white-space: nowrap; font-size: 13px; }
table.crm-runs td.links a { margin-right: 10px; }
table.crm-runs .err { margin-top: 6px; font-size: 12px; color: var(--crm-fail); font-family: var(--crm-mono);
                      white-space: pre-wrap; word-break: break-word; max-width: 46em; }
table.crm-runs .note { margin-top: 4px; font-size: 12px; color: var(--crm-muted); }
footer.crm-footer { margin-top: 30px; font-size: 12px; color: var(--crm-faint); }
footer.crm-footer code { font-size: 11px; }
"""
