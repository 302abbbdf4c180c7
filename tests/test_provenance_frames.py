"""Provenance records the checksum of the data actually analysed, also when they were simulated
in memory (notebook 07 without an orders file; the survey notebooks on a simulated sample)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from crm_research.reporting.provenance import DataFile, frame_input, frame_sha256, provenance

ROOT = Path(__file__).resolve().parents[1]


def test_frame_checksum_is_the_sha256_of_its_sorted_csv():
    df = pd.DataFrame({"b": [1.5, None], "a": ["x", "小"], "t": pd.to_datetime(["2024-01-02", "2024-01-03"])})
    expected = "a,b,t\nx,1.5,2024-01-02T00:00:00.000000\n小,,2024-01-03T00:00:00.000000\n".encode("utf-8")
    assert frame_sha256(df) == hashlib.sha256(expected).hexdigest()
    assert frame_sha256(df[["t", "a", "b"]]) == frame_sha256(df)
    assert frame_sha256(df.iloc[::-1]) != frame_sha256(df)       # row order is part of the data


def test_provenance_lists_in_memory_frames():
    df = pd.DataFrame({"customer_id": ["c1"], "amount": [9.9]})
    p = provenance({"n": 1}, data_files=[df, frame_input(df, "orders (simulated)")],
                   data_frames={"sessions (simulated)": df, "none": None})
    labels = [f.path for f in p.data_files]
    assert labels == ["data frame 1", "orders (simulated)", "sessions (simulated)"]
    assert {f.sha256 for f in p.data_files} == {frame_sha256(df)}
    assert "sha256:" + frame_sha256(df) in p.summary() and frame_sha256(df) in p._repr_html_()
    assert isinstance(p.data_files[0], DataFile) and p.data_files[1].name == "orders (simulated)"


def test_notebook_07_provenance_cell_hashes_the_simulated_log():
    nb = json.loads((ROOT / "notebooks" / "07_kpi_framework.ipynb").read_text(encoding="utf-8"))
    cell = next("".join(c["source"]) for c in nb["cells"]
                if c["cell_type"] == "code" and "reporting.provenance(" in "".join(c["source"]))
    assert "data_frames=frames" in cell and "log.orders" in cell and "log.sessions" in cell
