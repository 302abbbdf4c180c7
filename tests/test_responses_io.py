"""Reading response files: encodings, delimiters, Excel, SPSS, Qualtrics, and bad files."""
from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from crm_research.errors import DataFileError
from crm_research.instruments import load_instrument
from crm_research.responses import (WHITESPACE, prepare_responses, read_columns, read_responses, read_table,
                                   read_text, sniff_delimiter)

from _helpers import clean_responses

INSTRUMENT = "surveys/ecommerce_crm.yaml"
INST = load_instrument(INSTRUMENT)
LIKERT_ZH = ["非常不同意", "不同意", "一般", "同意", "非常同意"]


def clean_frame(n: int = 5) -> pd.DataFrame:
    """Valid responses to the bundled instrument (no finding but label conversions)."""
    return clean_responses(INST, n)


def wjx_frame(n: int = 5) -> pd.DataFrame:
    """The clean frame as a 问卷星 export: numbered Chinese question headers, label answers."""
    df = clean_frame(n)
    head = {"respondent_id": "序号", "duration_sec": "所用时间"}
    k = 0
    for it in INST.items:
        k += 1
        head[it.id] = f"{k}、{it.text['zh']}"
    head["AC1"] = f"{k + 1}、{INST.attention_checks[0].text['zh']}"
    for q in INST.demographics:
        k += 1
        head[q.id] = f"{k + 1}、{q.text['zh']}"
    out = df.rename(columns=head)
    for it in INST.items:
        out[head[it.id]] = df[it.id].map(lambda v: LIKERT_ZH[v - 1])
    out[head["AC1"]] = "同意"
    out["所用时间"] = df["duration_sec"].map(lambda s: f"{s}秒")
    return out


def write_text(path, df: pd.DataFrame, encoding: str, sep: str = ",", bom: bytes = b"") -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    w.writerow(df.columns)
    w.writerows(df.astype(str).values.tolist())
    path.write_bytes(bom + buf.getvalue().encode(encoding))


# --------------------------------------------------------------------------- encodings
@pytest.mark.parametrize("enc, bom, reported", [
    ("utf-8", b"", "utf-8"),
    ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
    ("gbk", b"", "gb18030"),
    ("gb18030", b"", "gb18030"),
    ("utf-16", b"", "utf-16"),   # Python's utf-16 codec writes a BOM
])
def test_csv_encodings(tmp_path, enc, bom, reported):
    df = wjx_frame()
    p = tmp_path / "export.csv"
    write_text(p, df, enc, bom=bom)
    raw = read_responses(p)
    assert raw.source.encoding == reported
    assert list(raw.data.columns) == list(df.columns)
    assert raw.data.iloc[0, 1] == df.iloc[0, 1]  # Chinese text intact
    rs = prepare_responses(p, INST)
    pd.testing.assert_frame_equal(rs.items.reset_index(drop=True), clean_frame()[INST.item_ids].astype(float))


def test_explicit_encoding_and_wrong_explicit_encoding(tmp_path):
    p = tmp_path / "gbk.csv"
    write_text(p, wjx_frame(), "gbk")
    assert read_responses(p, encoding="gbk").source.encoding == "gbk"
    with pytest.raises(DataFileError, match=r"cannot be decoded as utf-8 \(byte 0x"):
        read_responses(p, encoding="utf-8")
    with pytest.raises(DataFileError, match="unknown encoding 'klingon'"):
        read_responses(p, encoding="klingon")


def test_undecodable_file_names_row(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"respondent_id,PF1\r\n1,4\r\n2,\xff\xfe\x80\r\n")
    with pytest.raises(DataFileError) as e:
        read_responses(p)
    msg = str(e.value)
    assert "text encoding not recognised: not UTF-8 and not GBK/GB18030" in msg
    assert "row 3" in msg and "0xff" in msg and "fix:" in msg


# --------------------------------------------------------------------------- delimiters
@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiters(tmp_path, sep):
    df = wjx_frame()
    # a comma inside a header must not fool the detection of ; tab |
    df = df.rename(columns={df.columns[5]: df.columns[5] + ", 包括退换货"})
    p = tmp_path / "export.csv"
    write_text(p, df, "utf-8", sep=sep)
    raw = read_responses(p)
    assert raw.source.delimiter == sep
    assert raw.data.shape == df.shape


def test_sniff_reports_widths():
    d, widths = sniff_delimiter("a;b;c\n1;2;3\n")
    assert d == ";" and widths[";"] == 3 and widths[","] == 1


def test_wrong_delimiter_everything_in_one_column(tmp_path):
    p = tmp_path / "one.csv"
    # spaces that do not split every row alike are not a delimiter
    p.write_text("respondent_id PF1 PF2\n1 4 5\n2 3\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"row 1: all values are in one column: the delimiter is not comma"):
        read_responses(p)
    p2 = tmp_path / "semi.csv"
    p2.write_text("respondent_id;PF1;PF2\n1;4;5\n", encoding="utf-8")
    with pytest.raises(DataFileError) as e:
        read_responses(p2, delimiter=",")
    assert "all values are in one column with delimiter ','" in str(e.value)
    assert "semicolon-separated; pass --delimiter ';'" in str(e.value)


def test_ragged_row_is_named(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("respondent_id,PF1,PF2\n1,4,5\n2,3,3,9\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"row 3: has 4 fields where the header has 3"):
        read_responses(p)


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    p = tmp_path / "blank.csv"
    p.write_text("respondent_id,PF1\n1,4\n\n,\n2,3\n", encoding="utf-8")
    raw = read_responses(p)
    assert raw.data.index.tolist() == [2, 5]
    assert raw.data["respondent_id"].tolist() == ["1", "2"]


def test_quoted_multiline_cell_is_one_row(tmp_path):
    p = tmp_path / "ml.csv"
    p.write_text('respondent_id,comment,PF1\n1,"line one\nline two",4\n2,x,5\n', encoding="utf-8")
    raw = read_responses(p)
    assert raw.data.index.tolist() == [2, 3]
    assert raw.data.loc[2, "comment"] == "line one\nline two"


# --------------------------------------------------------------------------- bad files
@pytest.mark.parametrize("content", [b"", b"  \r\n\r\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\r\n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "empty.csv"
    p.write_bytes(content)
    with pytest.raises(DataFileError, match="the file is empty"):
        read_responses(p)


def test_header_only(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("respondent_id,PF1,PF2\n\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"h.csv, row 1: has a header row but no data rows"):
        read_responses(p)


@pytest.mark.parametrize("name, expect", [
    ("data.json", "unsupported file type '.json'; supported: .csv, .tsv, .txt"),
    ("data", "unsupported file type '(no extension)'"),
    ("data.xls", "old Excel 97-2003 .xls files are not supported"),
])
def test_unknown_format(tmp_path, name, expect):
    p = tmp_path / name
    p.write_text("x", encoding="utf-8")
    with pytest.raises(DataFileError) as e:
        read_responses(p)
    assert expect in str(e.value)
    assert ".xlsx" in str(e.value) and ".sav" in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        read_responses(tmp_path / "nope.csv")
    d = tmp_path / "dir.csv"
    d.mkdir()
    with pytest.raises(DataFileError, match="is a folder"):
        read_responses(d)


def test_binary_file_with_csv_extension_gets_a_hint(tmp_path):
    x = tmp_path / "real.xlsx"
    clean_frame().to_excel(x, index=False)
    p = tmp_path / "renamed.csv"
    p.write_bytes(x.read_bytes())
    with pytest.raises(DataFileError) as e:
        read_responses(p)
    assert "binary file" in str(e.value) or "not recognised" in str(e.value)
    assert "give it the .xlsx extension" in str(e.value)


def test_missing_items_listed(tmp_path):
    df = clean_frame().drop(columns=["SQ2", "LOY3"]).rename(columns={"PF1": "Q1"})
    with pytest.raises(DataFileError) as e:
        prepare_responses(df, INST)
    msg = str(e.value)
    assert "no column found for 3 of 27 items: PF1, SQ2, LOY3" in msg
    assert "unmapped columns: 'Q1'" in msg and "--map" in msg


def test_missing_respondent_id_generates_row_ids():
    df = clean_frame(3).drop(columns=["respondent_id"])
    rs = prepare_responses(df, INST)
    assert rs.data["respondent_id"].tolist() == ["row2", "row3", "row4"]
    f = rs.report.of("respondent_id_generated")
    assert len(f) == 1 and f.severity.iloc[0] == "warning"


# --------------------------------------------------------------------------- Excel
def _xlsx(path, frames: dict[str, pd.DataFrame], blank_row_after: int | None = None) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, df in frames.items():
        ws = wb.create_sheet(name)
        ws.append(list(df.columns))
        for i, row in enumerate(df.itertuples(index=False)):
            ws.append([v.item() if hasattr(v, "item") else v for v in row])
            if blank_row_after is not None and i == blank_row_after:
                ws.append([None] * df.shape[1])
    wb.save(path)


def test_xlsx_sheets_and_rows(tmp_path):
    p = tmp_path / "export.xlsx"
    df = wjx_frame(4)
    _xlsx(p, {"说明": pd.DataFrame({"note": ["read me"], "x": [1]}), "答卷数据": df}, blank_row_after=1)
    raw = read_responses(p, sheet="答卷数据")
    assert raw.source.format == "xlsx" and raw.source.sheet == "答卷数据"
    assert raw.data.index.tolist() == [2, 3, 5, 6]  # blank spreadsheet row 4 skipped, numbers kept
    assert read_responses(p, sheet=1).source.sheet == "答卷数据"
    assert read_responses(p).source.sheet == "说明"
    rs = prepare_responses(p, INST, sheet="答卷数据")
    assert rs.data.index.tolist() == [2, 3, 5, 6]
    assert rs.items.to_numpy().tolist() == clean_frame(4)[INST.item_ids].to_numpy(float).tolist()
    with pytest.raises(DataFileError, match=r"has no sheet 'Data'; sheets: 说明, 答卷数据"):
        read_responses(p, sheet="Data")
    with pytest.raises(DataFileError, match="has no sheet number 5"):
        read_responses(p, sheet=5)


def test_xlsx_numbers_stay_numbers(tmp_path):
    p = tmp_path / "n.xlsx"
    df = clean_frame(3)
    df["phone"] = [13912345678, 13812345678, None]
    _xlsx(p, {"Sheet1": df})
    raw = read_responses(p)
    assert raw.data["PF1"].tolist() == df["PF1"].tolist()
    rs = prepare_responses(p, INST, salt="s")
    assert rs.privacy.table.set_index("column").loc["phone", "action"] == "pseudonymized"
    assert "13912345678" not in rs.other.to_csv()


@pytest.mark.parametrize("damage", ["random", "truncated", "empty_zip"])
def test_corrupted_xlsx(tmp_path, damage):
    p = tmp_path / "bad.xlsx"
    if damage == "random":
        p.write_bytes(np.random.default_rng(1).bytes(2000))
    elif damage == "truncated":
        good = tmp_path / "good.xlsx"
        clean_frame().to_excel(good, index=False)
        p.write_bytes(good.read_bytes()[:1500])
    else:
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("hello.txt", "not a workbook")
    with pytest.raises(DataFileError, match=r"bad.xlsx: is not a readable .xlsx workbook"):
        read_responses(p)


def test_empty_and_header_only_xlsx(tmp_path):
    import openpyxl

    p = tmp_path / "e.xlsx"
    openpyxl.Workbook().save(p)
    with pytest.raises(DataFileError, match="sheet 'Sheet' is empty"):
        read_responses(p)
    p2 = tmp_path / "h.xlsx"
    _xlsx(p2, {"S": clean_frame().iloc[:0]})
    with pytest.raises(DataFileError, match="row 1: sheet 'S' has a header row but no data rows"):
        read_responses(p2)


# --------------------------------------------------------------------------- SPSS
def test_sav_labels_map_columns_and_value_labels_recode(tmp_path):
    import pyreadstat

    df = clean_frame(4)
    sav = pd.DataFrame({"id": df["respondent_id"].astype(float)})
    col_labels = ["序号"]
    vlabels = {}
    for k, it in enumerate(INST.items, 1):
        sav[f"Q{k}"] = (df[it.id] - 1).astype(float)      # coded 0..4
        col_labels.append(f"{k}. {it.text['zh']}")
        vlabels[f"Q{k}"] = {float(i): lab for i, lab in enumerate(LIKERT_ZH)}
    sav["AC"] = 3.0
    col_labels.append(INST.attention_checks[0].text["en"])
    vlabels["AC"] = {float(i): lab for i, lab in enumerate(INST.scales["agree5"].labels["en"])}
    sav["sex"] = df["gender"].astype(float)
    col_labels.append("您的性别")
    p = tmp_path / "survey.sav"
    pyreadstat.write_sav(sav, str(p), column_labels=col_labels, variable_value_labels=vlabels)
    raw = read_responses(p)
    assert raw.source.format == "sav" and raw.source.first_data_row == 1
    assert raw.data.index.tolist() == [1, 2, 3, 4]   # SPSS case numbers
    rs = prepare_responses(p, INST)
    m = rs.mapping.table.set_index("column")
    assert m.loc["Q1", "mapped_to"] == "PF1" and m.loc["Q1", "method"] == "label"
    assert m.loc["AC", "mapped_to"] == "AC1" and m.loc["sex", "mapped_to"] == "gender"
    assert m.loc["id", "mapped_to"] == "respondent_id"
    assert rs.items.to_numpy().tolist() == df[INST.item_ids].to_numpy(float).tolist()
    assert (rs.data["AC1"] == 4).all() and rs.report.of("attention_failed").empty
    rec = rs.report.of("value_labels_recoded")
    assert len(rec) == 28 and rec.message.iloc[0].startswith("codes 0->1, 1->2, 2->3, 3->4, 4->5")


@pytest.mark.parametrize("damage", ["random", "truncated"])
def test_corrupted_sav(tmp_path, damage):
    import pyreadstat

    p = tmp_path / "bad.sav"
    if damage == "random":
        p.write_bytes(b"$FL2" + np.random.default_rng(2).bytes(500))
    else:
        good = tmp_path / "good.sav"
        pyreadstat.write_sav(clean_frame(), str(good))
        p.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DataFileError, match=r"bad.sav: is not a readable SPSS .sav file"):
        read_responses(p)


# --------------------------------------------------------------------------- Qualtrics
def test_qualtrics_three_header_rows(tmp_path):
    df = clean_frame(3)
    names = ["ResponseId", "Duration (in seconds)"] + [f"Q{k}" for k in range(1, 28)]
    texts = ["Response ID", "Duration (in seconds)"] + [it.text["en"] for it in INST.items]
    ids = ['{"ImportId":"_recordId"}', '{"ImportId":"duration"}'] + [f'{{"ImportId":"QID{k}"}}' for k in range(1, 28)]
    body = [[f"R_{i}", "400"] + [str(v) for v in df.loc[i, INST.item_ids]] for i in range(3)]
    p = tmp_path / "qualtrics.csv"
    with p.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerows([names, texts, ids] + body)
    raw = read_responses(p)
    assert raw.data.index.tolist() == [4, 5, 6] and raw.labels["Q1"] == INST.items[0].text["en"]
    rs = prepare_responses(p, INST, require_all_items=True)
    assert rs.data["respondent_id"].tolist() == ["R_0", "R_1", "R_2"]
    assert rs.mapping.table.set_index("column").loc["Q27", "mapped_to"] == "LOY3"
    assert rs.items.to_numpy().tolist() == df[INST.item_ids].to_numpy(float).tolist()
    assert re.search(r"duration_sec", rs.report.settings["duration_column"])


# --------------------------------------------------------------------------- Parquet, whitespace, one reader
def test_parquet_keeps_types_and_numbers_rows_from_1(tmp_path):
    df = clean_frame(4)
    df["comment"] = ["好", None, "ok", ""]
    p = tmp_path / "r.parquet"
    df.to_parquet(p, index=False)
    raw = read_table(p)
    assert raw.source.format == "parquet" and raw.source.first_data_row == 1
    assert raw.data.index.tolist() == [1, 2, 3, 4]
    assert raw.data["PF1"].dtype.kind == "i" and raw.data.loc[1, "comment"] == "好"
    rs = prepare_responses(p, INST)
    assert rs.items.to_numpy().tolist() == df[INST.item_ids].to_numpy(float).tolist()


def test_damaged_parquet(tmp_path):
    good = tmp_path / "good.parquet"
    clean_frame().to_parquet(good)
    p = tmp_path / "bad.parquet"
    p.write_bytes(good.read_bytes()[:200])
    with pytest.raises(DataFileError, match=r"bad.parquet: is not a readable Parquet file"):
        read_table(p)


def test_whitespace_separated_like_r_write_table(tmp_path):
    p = tmp_path / "r.dat"
    p.write_text('"id" "x1" "school"\n"1" 3.5 "Grant White"\n\n"2"   NA "Pasteur"\n', encoding="utf-8")
    raw = read_table(p)
    assert raw.source.delimiter == WHITESPACE and raw.source.summary().count("whitespace-separated") == 1
    assert raw.data.index.tolist() == [2, 4]                 # file lines, the blank line skipped
    assert raw.data["school"].tolist() == ["Grant White", "Pasteur"] and raw.data["x1"].tolist() == ["3.5", "NA"]
    assert read_columns(p) == ["id", "x1", "school"]
    assert read_table(p, delimiter="whitespace").data.shape == (2, 3)


def test_whitespace_loses_to_a_real_delimiter(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("respondent id,PF 1\n1,4\n2,5\n", encoding="utf-8")
    assert read_table(p).source.delimiter == ","


@pytest.mark.parametrize("name, sep", [("comma", ","), ("semicolon", ";"), ("tab", "\t"), ("\\t", "\t"),
                                       ("pipe", "|"), ("|", "|")])
def test_delimiter_names(tmp_path, name, sep):
    p = tmp_path / "d.csv"
    p.write_text(f"a{sep}b\n1{sep}2\n", encoding="utf-8")
    assert read_table(p, delimiter=name).source.delimiter == sep
    with pytest.raises(DataFileError, match="delimiter must be one character or a name"):
        read_table(p, delimiter="colon-ish")


def test_sheet_by_name_by_position_and_digits(tmp_path):
    p = tmp_path / "s.xlsx"
    _xlsx(p, {"notes": pd.DataFrame({"a": [1], "b": [2]}), "2024": clean_frame(3), "1": clean_frame(2)})
    assert read_table(p, sheet="2024").source.sheet == "2024"
    assert read_table(p, sheet=1).source.sheet == "2024"
    assert read_table(p, sheet="1").source.sheet == "1"           # a sheet named "1" wins over position 1
    assert read_table(p, sheet="0").source.sheet == "notes"
    with pytest.raises(DataFileError, match=r"has no sheet 'x'; sheets: notes, 2024, 1"):
        read_table(p, sheet="x")
    with pytest.raises(DataFileError, match=r"has no sheet number 7 \(it has 3: notes, 2024, 1\)"):
        read_table(p, sheet=7)
    assert read_columns(p, sheet="2024")[:2] == ["respondent_id", "PF1"]


def test_read_columns_without_reading_rows(tmp_path):
    df = wjx_frame(3)
    for enc in ("gbk", "utf-8"):
        p = tmp_path / f"{enc}.csv"
        write_text(p, df, enc, sep=";")
        assert read_columns(p) == list(df.columns)
    pq = tmp_path / "x.parquet"
    clean_frame().to_parquet(pq)
    assert read_columns(pq) == list(clean_frame().columns)
    with pytest.raises(DataFileError, match="file not found"):
        read_columns(tmp_path / "none.csv")


def test_read_text_encodings(tmp_path):
    text = "# 模型\nF =~ x1 + x2 + x3\n"
    for enc in ("utf-8", "utf-8-sig", "gbk", "utf-16"):
        p = tmp_path / f"m_{enc}.lav"
        p.write_bytes(text.encode(enc))
        assert read_text(p) == text, enc
    p = tmp_path / "bin.lav"
    p.write_bytes(b"\x00\x01" * 100)
    with pytest.raises(DataFileError, match="bin.lav: is a binary file"):
        read_text(p, what="model file")
    with pytest.raises(DataFileError, match="model file not found"):
        read_text(tmp_path / "none.lav", what="model file")


def test_read_responses_is_read_table():
    assert read_responses is read_table
