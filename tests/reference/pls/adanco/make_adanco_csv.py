"""Convert ADANCO 2.1.1's result workbooks kept in cSEM's test folder to CSV (run once).

Source: github.com/M-E-Rademaker/cSEM, commit 7f96724 (``git log -1`` of the snapshot used),
files tests/comparisons/results_cf_model.xls (common-factor model, PLSc, factorial scheme) and
tests/comparisons/results_composite_model.xls (all constructs mode B, factorial scheme), both
ADANCO 2.1.1 outputs on cSEM's ``satisfaction`` data (250 x 27), and
tests/comparisons/satisfaction.xlsx (the data ADANCO read). cSEM's own comparison scripts
(Compare_to_ADANCO_and_matrixpls_*.R, same folder) document the models and settings.

Every sheet except the construct scores is written cell by cell (``<model>/<sheet>.csv``,
no header row added: the first row is the sheet's first row) so the tests read ADANCO's
numbers unrounded. Needs ``xlrd`` (``pip install xlrd``) and ``openpyxl``.

Usage: python make_adanco_csv.py /path/to/cSEM/tests/comparisons
"""
import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent


def sheet_file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() + ".csv"


def main(src: Path) -> None:
    import openpyxl   # imported here: pytest's --doctest-modules imports this file without them
    import xlrd

    for book, out in (("results_cf_model.xls", "cf_model"), ("results_composite_model.xls", "composite_model")):
        wb = xlrd.open_workbook(str(src / book))
        (HERE / out).mkdir(exist_ok=True)
        for sh in wb.sheets():
            if "Construct Scores" in sh.name:
                continue
            with open(HERE / out / sheet_file(sh.name), "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                for r in range(sh.nrows):
                    w.writerow([repr(v) if isinstance(v, float) else v for v in sh.row_values(r)])
    ws = openpyxl.load_workbook(src / "satisfaction.xlsx").active
    with open(HERE / "satisfaction.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        for row in ws.iter_rows(values_only=True):
            w.writerow(row)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
