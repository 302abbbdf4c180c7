"""Write one DataFrame in every file format the one reader takes (for the CLI tests of the verbs).

``write_as(df, folder, fmt)`` returns ``(path, extra CLI args, what the reader should detect)``.
Missing values are written as each format writes them: empty CSV cells, ``NA`` in a
whitespace-separated file, empty Excel cells, system-missing in SPSS, null in Parquet.
"""
from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import pandas as pd

FORMATS = ["utf8", "bom", "gbk", "semicolon", "tab", "whitespace", "xlsx_name", "xlsx_index", "sav", "parquet"]


def _text(df: pd.DataFrame, sep: str, na: str = "") -> str:
    return df.to_csv(sep=sep, index=False, na_rep=na, lineterminator="\n")


def write_as(df: pd.DataFrame, folder: Path, fmt: str, stem: str = "data") -> tuple[Path, list[str], dict]:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt in ("utf8", "bom", "gbk", "semicolon", "tab"):
        sep = {"semicolon": ";", "tab": "\t"}.get(fmt, ",")
        enc = {"bom": "utf-8-sig", "gbk": "gbk"}.get(fmt, "utf-8")
        p = folder / f"{stem}_{fmt}.csv"
        p.write_bytes(_text(df, sep).encode(enc))
        if fmt == "bom":
            assert p.read_bytes().startswith(codecs.BOM_UTF8)
        return p, [], {"encoding": {"bom": "utf-8-sig", "gbk": "gb18030"}.get(fmt, "utf-8"), "delimiter": sep}
    if fmt == "whitespace":
        p = folder / f"{stem}.dat"      # as R's write.table: text with spaces quoted, NA for missing
        body = df.replace("", np.nan)  # an empty field cannot be told apart from a run of spaces
        p.write_text(_text(body, " ", na="NA"), encoding="utf-8")
        return p, [], {"delimiter": r"\s+"}
    if fmt in ("xlsx_name", "xlsx_index"):
        p = folder / f"{stem}_{fmt}.xlsx"
        with pd.ExcelWriter(p, engine="openpyxl") as xw:
            pd.DataFrame({"说明": ["responses are on the next sheet"], "note": [1]}).to_excel(xw, sheet_name="说明", index=False)
            df.to_excel(xw, sheet_name="答卷数据", index=False)
        return p, ["--sheet", "答卷数据" if fmt == "xlsx_name" else "1"], {"sheet": "答卷数据"}
    if fmt == "sav":
        import pyreadstat

        p = folder / f"{stem}.sav"
        out = df.copy()
        for c in out.columns:
            if not pd.api.types.is_numeric_dtype(out[c]):
                out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str)
        # SPSS names must be identifiers: other headers become V<k> with the header as variable label,
        # as SPSS exports of survey platforms do
        labels = [str(c) for c in out.columns]
        names = [c if re.fullmatch(r"[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]{0,63}", c) else f"V{k}"
                 for k, c in enumerate(labels, 1)]
        out.columns = names
        pyreadstat.write_sav(out, str(p), column_labels=labels)
        return p, [], {"format": "sav"}
    if fmt == "parquet":
        p = folder / f"{stem}.parquet"
        df.reset_index(drop=True).to_parquet(p, index=False)
        return p, [], {"format": "parquet"}
    raise ValueError(fmt)


def with_chinese_column(df: pd.DataFrame, name: str = "备注", value: str = "无意见") -> pd.DataFrame:
    """A copy with a Chinese text column, so GBK decoding is exercised."""
    out = df.copy()
    out[name] = np.where(np.arange(len(out)) % 2 == 0, value, "好")
    return out
