"""``crm-research validate``: outputs, exit codes, one-line errors, the bundled messy export."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crm_research.cli import main

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = str(ROOT / "surveys" / "ecommerce_crm.yaml")
EXAMPLE = ROOT / "surveys" / "examples" / "wjx_ecommerce_crm_gbk.csv"
MANIFEST = ROOT / "surveys" / "examples" / "wjx_ecommerce_crm_gbk.manifest.json"
OUTPUTS = ["validation_report.html", "validation_report.md", "findings.csv", "mapping.csv", "clean.csv",
           "scores.csv", "excluded.csv", "provenance.json"]


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _example_rows() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE, encoding="gbk", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wjx")
    code = main(["validate", str(EXAMPLE), "--instrument", INSTRUMENT, "-o", str(out), "--salt", "t"])
    return code, out


def test_example_processed_and_outputs_written(example_run):
    code, out = example_run
    assert code == 0
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["source"]["encoding"] == "gb18030" and prov["rows"] == 143
    assert prov["options"]["salt"] == "user" and "t" not in prov["options"].values()


def test_example_every_injected_problem_reported_with_its_row(example_run):
    _, out = example_run
    f = pd.read_csv(out / "findings.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert len(manifest["problems"]) >= 20
    for m in manifest["problems"]:
        hit = f[(f.check == m["problem"]) & (f.row == str(m["row"]))]
        assert len(hit), m
        if m["column"]:
            assert m["column"] in set(hit.column), m
        if m["value"] and m["problem"] not in ("straight_lining",):
            assert m["value"] in set(hit.value), m
    # and nothing else is flagged as an error or warning
    serious = f[f.severity.isin(["error", "warning"])]
    expected = {(m["problem"], str(m["row"])) for m in manifest["problems"]}
    assert set(zip(serious.check, serious.row)) <= expected


def test_example_outputs_hold_no_personal_data(example_run):
    _, out = example_run
    raw = _example_rows()
    phones = [p for p in raw.filter(like="手机").iloc[:, 0] if p]
    emails = [e for e in raw.filter(like="邮箱").iloc[:, 0] if e]
    ips = [ip.split("(")[0] for ip in raw["来自IP"]]
    assert len(phones) > 50 and len(emails) > 20
    blob = "".join((out / n).read_text(encoding="utf-8-sig") for n in OUTPUTS)
    for v in phones + emails + ips + ["13912345678", "zhang.wei@example.com"]:
        assert v not in blob, v


def test_example_clean_data_and_scores(example_run):
    _, out = example_run
    data = pd.read_csv(out / "clean.csv", encoding="utf-8-sig")
    scores = pd.read_csv(out / "scores.csv", encoding="utf-8-sig")
    excluded = pd.read_csv(out / "excluded.csv", encoding="utf-8-sig")
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    dropped = {m["row"] for m in manifest["problems"]
               if m["problem"] in ("attention_failed", "screened_out", "duplicate_id")}
    assert set(excluded.row) == dropped
    # identical answers under another id are flagged, not dropped, by default
    same = {m["row"] for m in manifest["problems"] if m["problem"] == "duplicate_row"} - dropped
    assert same and data.flag_duplicate_row.sum() == len(same)
    assert len(data) == 143 - len(dropped) == len(scores)
    assert data.PF1.dropna().between(1, 5).all() and str(data.PF1.dtype) == "int64"
    assert data.flag_too_fast.sum() == sum(m["problem"] == "too_fast" for m in manifest["problems"])
    assert scores.columns.tolist()[:3] == ["row", "respondent_id", "PF"]


def test_example_regenerates_identically(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_messy_export", EXAMPLE.parent / "make_messy_export.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    csv_path, man_path = gen.write(tmp_path)
    assert csv_path.read_bytes() == EXAMPLE.read_bytes()
    assert man_path.read_bytes() == MANIFEST.read_bytes()


def test_refuses_to_overwrite_then_force(tmp_path, capsys):
    args = ["validate", str(EXAMPLE), "--instrument", INSTRUMENT, "-o", str(tmp_path / "o")]
    assert run(args, capsys)[0] == 0
    code, out, err = run(args, capsys)
    assert code == 2
    assert err.startswith("error: ") and "would overwrite existing outputs" in err and "--force" in err
    assert run(args + ["--force"], capsys)[0] == 0


def test_summary_printed(tmp_path, capsys):
    code, out, err = run(["validate", str(EXAMPLE), "-i", INSTRUMENT, "-o", str(tmp_path / "o"),
                          "--policy", "too_fast=drop"], capsys)
    assert code == 0 and err == ""
    assert "respondents: 143 read, 132 kept, 11 excluded" in out
    assert "too_fast" in out and "(drop: 4 dropped)" in out
    assert "personal data: 来自IP (ip, pseudonymized); phone (phone, pseudonymized)" in out


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    files = {}
    p = tmp / "empty.csv"
    p.write_bytes(b"")
    files["empty"] = (p, "the file is empty")
    p = tmp / "enc.csv"
    p.write_bytes(b"respondent_id,PF1\n1,\xff\xfe\x80\n")
    files["encoding"] = (p, "text encoding not recognised")
    p = tmp / "delim.csv"
    p.write_text("respondent_id PF1\n1 4 5\n", encoding="utf-8")   # spaces, but not a consistent delimiter
    files["delimiter"] = (p, "all values are in one column")
    p = tmp / "header.csv"
    p.write_text("respondent_id,PF1\n", encoding="utf-8")
    files["header_only"] = (p, "has a header row but no data rows")
    p = tmp / "data.pdf"
    p.write_text("%PDF", encoding="utf-8")
    files["format"] = (p, "unsupported file type '.pdf'")
    p = tmp / "items.csv"
    p.write_text("respondent_id,PF1,PF2\n1,4,5\n", encoding="utf-8")
    files["missing_items"] = (p, "no column found for 25 of 27 items")
    p = tmp / "bad.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    files["xlsx"] = (p, "is not a readable .xlsx workbook")
    p = tmp / "bad.sav"
    p.write_bytes(b"$FL2 not really spss")
    files["sav"] = (p, "is not a readable SPSS .sav file")
    files["absent"] = (tmp / "nope.csv", "file not found")
    return files


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    for name, (path, expect) in _bad_files(tmp_path).items():
        code, out, err = run(["validate", str(path), "-i", INSTRUMENT, "-o", str(tmp_path / f"o_{name}")], capsys)
        assert code == 2, name
        assert err.startswith("error: ") and expect in err, (name, err)
        assert err.count("\n") == 1 and "Traceback" not in err, name
        assert not (tmp_path / f"o_{name}").exists(), name  # nothing written


def test_bad_options_exit_2(tmp_path, capsys):
    base = ["validate", str(EXAMPLE), "-i", INSTRUMENT, "-o", str(tmp_path / "o")]
    for extra, expect in [(["--policy", "too_fast=later"], "policy must be drop, flag or keep"),
                          (["--policy", "nonsense"], "expected CHECK=POLICY"),
                          (["--speed-ratio", "3"], "--speed-ratio"),
                          (["--map", str(tmp_path / "none.yaml")], "column map file not found"),
                          (["--salt-file", str(tmp_path / "none.txt")], "salt file not found"),
                          (["--sheet", "x", "--encoding", "klingon"], "unknown encoding 'klingon'")]:
        code, _, err = run(base + extra, capsys)
        assert code == 2 and expect in err and "Traceback" not in err, (extra, err)
    code, _, err = run(["validate", str(EXAMPLE), "-i", str(tmp_path / "none.yaml"), "-o", str(tmp_path / "o")], capsys)
    assert code == 2 and "file not found" in err


def test_column_map_file(tmp_path, capsys):
    df = pd.read_csv(EXAMPLE, encoding="gbk", dtype=str, keep_default_na=False)
    df = df.rename(columns={df.columns[6]: "Q1", df.columns[7]: "Q2"})
    p = tmp_path / "renamed.csv"
    df.to_csv(p, index=False, encoding="utf-8-sig")
    code, _, err = run(["validate", str(p), "-i", INSTRUMENT, "-o", str(tmp_path / "a")], capsys)
    assert code == 2 and "no column found for 2 of 27 items: PF1, PF2" in err and "'Q1'" in err
    m = tmp_path / "map.yaml"
    m.write_text("Q1: PF1\nQ2: PF2\n", encoding="utf-8")
    code, out, err = run(["validate", str(p), "-i", INSTRUMENT, "--map", str(m), "-o", str(tmp_path / "b")], capsys)
    assert code == 0, err
    mapping = pd.read_csv(tmp_path / "b" / "mapping.csv", encoding="utf-8-sig").set_index("column")
    assert mapping.loc["Q1", "mapped_to"] == "PF1" and mapping.loc["Q1", "method"] == "column_map"


def test_salt_file_makes_pseudonyms_reproducible(tmp_path, capsys):
    s = tmp_path / "salt.txt"
    s.write_text("secret-salt\n", encoding="utf-8")
    for o in ("a", "b"):
        assert run(["validate", str(EXAMPLE), "-i", INSTRUMENT, "--salt-file", str(s), "-o", str(tmp_path / o)],
                   capsys)[0] == 0
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_real_process_exit_codes(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("CRM_RESEARCH_DEBUG", None)
    cmd = [sys.executable, "-m", "crm_research.cli", "validate"]
    bad = tmp_path / "x.csv"
    bad.write_text("a;b\n", encoding="utf-8")
    r = subprocess.run(cmd + [str(bad), "-i", INSTRUMENT, "-o", str(tmp_path / "o")], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error: ")
    r = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0 and "--policy CHECK=POLICY" in r.stdout and "exit status" in r.stdout


# --------------------------------------------------------------------------- one reader, one map
from _formats import FORMATS, write_as  # noqa: E402


@pytest.fixture(scope="module")
def example_frame():
    return _example_rows()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format(example_run, example_frame, fmt, tmp_path, capsys):
    """The bundled GBK export, re-saved in every format: the same respondents kept, the same clean data and
    scores as from the original file (SPSS: headers as variable labels, names V1...)."""
    path, extra, detected = write_as(example_frame, tmp_path / "in", fmt, stem="wjx")
    code, out, err = run(["validate", str(path), "-i", INSTRUMENT, "--salt", "t", "-o", str(tmp_path / "o"),
                          *extra], capsys)
    assert code == 0, err
    for value in detected.values():
        shown = {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated",
                 r"\s+": "whitespace-separated"}.get(value, value)
        assert shown in out.splitlines()[0]
    _, ref_dir = example_run
    for name in ("scores.csv", "clean.csv"):
        ours = pd.read_csv(tmp_path / "o" / name, encoding="utf-8-sig").drop(columns="row")
        ref = pd.read_csv(ref_dir / name, encoding="utf-8-sig").drop(columns="row")
        assert len(ours) == len(ref) > 100
        ours = ours[[c for c in ref.columns if c in ours.columns]]
        pd.testing.assert_frame_equal(ours, ref, check_dtype=False, obj=f"{fmt} {name}")


def test_map_pairs_reversed_pairs_and_file(tmp_path, capsys):
    df = _example_rows()
    df = df.rename(columns={df.columns[6]: "Q1", df.columns[7]: "Q2"})
    p = tmp_path / "renamed.xlsx"
    df.to_excel(p, index=False)
    code, out, err = run(["validate", str(p), "-i", INSTRUMENT, "-o", str(tmp_path / "a"),
                          "--map", "Q1=PF1", "--map", "PF2=Q2"], capsys)
    assert code == 0, err
    assert "note: --map PF2=Q2: read as file column 'Q2' -> 'PF2' (the older ID=COLUMN order)" in out
    m = pd.read_csv(tmp_path / "a" / "mapping.csv", encoding="utf-8-sig").set_index("column")
    assert m.loc["Q1", "mapped_to"] == "PF1" and m.loc["Q2", "mapped_to"] == "PF2"
    y = tmp_path / "map.yaml"
    y.write_text("Q1: PF1\n", encoding="utf-8")
    code, _, err = run(["validate", str(p), "-i", INSTRUMENT, "-o", str(tmp_path / "b"),
                        "--map", str(y), "--map", "Q2=PF2"], capsys)
    assert code == 0, err
    for f in ("clean.csv", "scores.csv", "mapping.csv"):
        assert (tmp_path / "a" / f).read_bytes() != b""
        assert pd.read_csv(tmp_path / "a" / f, encoding="utf-8-sig").equals(
            pd.read_csv(tmp_path / "b" / f, encoding="utf-8-sig")), f
    code, _, err = run(["validate", str(p), "-i", INSTRUMENT, "-o", str(tmp_path / "c"), "--map", "Q1=PF99"], capsys)
    assert code == 2 and "--map: Q1=PF99: unknown variable 'PF99'" in err


def test_na_tokens_and_the_deprecated_missing(tmp_path, capsys):
    df = _example_rows()
    col = df.columns[6]
    df.loc[0, col] = "99"
    p = tmp_path / "x.csv"
    df.to_csv(p, index=False, encoding="utf-8-sig")
    code, _, err = run(["validate", str(p), "-i", INSTRUMENT, "-o", str(tmp_path / "a"), "--na", "99"], capsys)
    assert code == 0 and err == ""
    f = pd.read_csv(tmp_path / "a" / "findings.csv", encoding="utf-8-sig")
    assert not ((f.check == "out_of_range") & (f.row == 2)).any()
    code, _, err = run(["validate", str(p), "-i", INSTRUMENT, "-o", str(tmp_path / "b"), "--missing", "99"], capsys)
    assert code == 0 and err.startswith("note: --missing is deprecated; use --na TOKEN")
    assert (tmp_path / "a" / "findings.csv").read_bytes() == (tmp_path / "b" / "findings.csv").read_bytes()
    with pytest.raises(SystemExit) as e:
        main(["validate", str(p), "-i", INSTRUMENT, "-o", str(tmp_path / "c"), "--missing", "ml"])
    assert e.value.code == 2
    assert "validate fits no model" in capsys.readouterr().err


# --------------------------------------------------------------------------- issue 12: personal data in odd places
PII_IDS = ["13812345678", "13812345679", "zhang@example.com", "li@example.com", "110105194912310021",
           "110105194912310022", "１３８１２３４５６７０", "１３８１２３４５６７１", "138-1234-5672", "+86 138 1234 5673",
           "user_13812345674", "４４０３０１１９９００１０１１２３Ｘ"]
PII_NEEDLES = ["13812345678", "13812345679", "zhang@example.com", "li@example.com", "110105194912310021",
               "110105194912310022", "13812345670", "13812345671", "１３８１２３４５６７", "138-1234-5672",
               "138 1234 5673", "13812345674", "44030119900101123", "４４０３０１１９９",
               "13900001111", "x@y.com", "13900002222", "zhao@example.org"]


@pytest.fixture(scope="module")
def pii_run(tmp_path_factory):
    """The messy example with personal data as respondent ids, in headers and a 200,000-character cell."""
    tmp = tmp_path_factory.mktemp("pii")
    df = _example_rows()
    unique = df.index[~df["序号"].duplicated(keep=False)][10:10 + len(PII_IDS)]
    df.loc[unique, "序号"] = PII_IDS                          # ids that are unique in the example
    item = next(c for c in df.columns if c.startswith("7、"))
    df.loc[20, item] = "很" * 200_000                          # row 22: a non_numeric answer
    df.loc[30, df.columns[-1]] = "身份证110105194912310021，" + "长" * 200_000
    cols = list(df.columns)
    cols[cols.index("来源详情")] = "来源详情 13900001111 或 x@y.com"
    cols[cols.index(item)] = item + "（客服13900002222）"
    cols[cols.index("来源")] = "zhao@example.org"
    df.columns = cols
    path = tmp / "survey.csv"
    df.to_csv(path, index=False, encoding="utf-8")
    out = tmp / "out"
    import contextlib
    import io

    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        code = main(["validate", str(path), "--instrument", INSTRUMENT, "-o", str(out), "--salt", "t"])
    return code, out, buf.getvalue() + err.getvalue()


def test_personal_data_reaches_no_output_nor_the_console(pii_run):
    from crm_research.privacy import find_pii

    code, out, console = pii_run
    assert code == 0
    texts = {n: (out / n).read_text(encoding="utf-8-sig") for n in OUTPUTS}
    texts["console"] = console
    for name, text in texts.items():
        for needle in PII_NEEDLES:
            assert needle not in text, (name, needle)
        assert find_pii(text) == [], (name, find_pii(text)[:3])


def test_personal_ids_become_distinct_pseudonyms_and_nobody_is_lost(pii_run):
    from crm_research.privacy import looks_personal

    _, out, _ = pii_run
    data = pd.read_csv(out / "clean.csv", encoding="utf-8-sig", dtype=str)
    excluded = pd.read_csv(out / "excluded.csv", encoding="utf-8-sig")
    f = pd.read_csv(out / "findings.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    dropped = {m["row"] for m in manifest["problems"] if m["problem"] in ("attention_failed", "screened_out",
                                                                          "duplicate_id")}
    assert set(excluded.row) == dropped                         # the same respondents as without the PII ids
    assert set(f.loc[f.check == "duplicate_id", "row"].astype(int)) == {142, 144}
    assert len(data) == 143 - len(dropped)
    ex = _example_rows()
    rows = ex.index[~ex["序号"].duplicated(keep=False)][10:10 + len(PII_IDS)] + 2   # rows whose ids were replaced
    kept = [str(r) for r in rows if r not in dropped]
    assert len(kept) >= len(PII_IDS) - 1
    replaced = data.set_index("row").loc[kept, "respondent_id"]
    assert replaced.nunique() == len(kept)
    assert all(looks_personal(v) is None and not v.startswith("[") for v in replaced)
    pii = f[(f.check == "pii_column") & (f.column == "respondent_id")]
    assert len(pii) == 1 and f"{len(PII_IDS)} cells" in pii.message.iloc[0]


def test_headers_with_personal_data_are_pseudonymized_consistently(pii_run):
    _, out, console = pii_run
    mapping = pd.read_csv(out / "mapping.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    f = pd.read_csv(out / "findings.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    renamed = [c for c in mapping.column if "[phone:" in c or "[email:" in c]
    assert len(renamed) == 3
    item_col = next(c for c in renamed if c.startswith("7、"))
    assert mapping.set_index("column").loc[item_col, "mapped_to"] == "LE1" or \
        mapping.set_index("column").loc[item_col, "mapped_to"] != ""     # still mapped by its text
    other = next(c for c in renamed if c.startswith("来源详情"))
    assert other in set(f.column)                                  # the unmapped-column finding names it
    report = (out / "validation_report.md").read_text(encoding="utf-8")
    assert other in report or other.replace("|", "\\|") in report


def test_long_cells_are_truncated_in_findings_and_reports(pii_run):
    _, out, console = pii_run
    f = pd.read_csv(out / "findings.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    hit = f[(f.check == "non_numeric") & (f.row == "22")]
    assert len(hit) == 1
    assert hit.value.iloc[0] == "很" * 200 + "… (200000 characters)"
    for name in ("findings.csv", "validation_report.md", "validation_report.html"):
        text = (out / name).read_text(encoding="utf-8-sig")
        # the cell is shown by its first 200 characters (a message quoting it by at most 400)
        assert "很" * 401 not in text and "长" * 401 not in text, name
        assert len(text) < 120_000, name
    assert "很" * 401 not in console


def test_excel_with_numeric_phone_ids_and_a_phone_in_the_sheet_name(tmp_path, capsys):
    from crm_research.privacy import find_pii

    df = _example_rows()
    df["序号"] = pd.to_numeric(df["序号"])
    df.loc[10, "序号"] = 13812345678                      # Excel numbers, two people
    df.loc[11, "序号"] = 13812345679
    path = tmp_path / "x.xlsx"
    with pd.ExcelWriter(path) as w:
        df.to_excel(w, sheet_name="张三13700001111", index=False)
    out = tmp_path / "o"
    code, printed, err = run(["validate", str(path), "-i", INSTRUMENT, "-o", str(out), "--sheet", "0"], capsys)
    assert code == 0 and "张三[phone:" in printed
    for name in OUTPUTS:
        text = (out / name).read_text(encoding="utf-8-sig")
        assert "1381234567" not in text and "13700001111" not in text and find_pii(text) == [], name
    data = pd.read_csv(out / "clean.csv", encoding="utf-8-sig", dtype=str).set_index("row")
    assert data.loc["12", "respondent_id"] != data.loc["13", "respondent_id"]
    assert find_pii(printed + err) == []
