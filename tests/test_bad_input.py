"""The bad-input suite: property-based (hypothesis) runs of ``validate``, ``kpi`` and ``clv`` on
files a new user might feed them: random bytes, random encodings (UTF-8, UTF-8 with BOM, GBK,
UTF-16, Latin-1, sometimes declared wrongly with --encoding), delimiters, CRLF, and personal data
(phones in several spellings, e-mails, ID numbers of both lengths and any checksum, IP addresses,
full-width variants) planted in random cells, headers and ids.

Every run must either succeed (exit 0) or fail cleanly (exit 2, one line ``error: ...`` on
stderr, no traceback); an internal error (exit 70) or a traceback fails the test. Whatever the
outcome, no planted personal-data string may appear in any file the command wrote, nor on the
console, and :func:`crm_research.privacy.find_pii` must find nothing in the text files written.
No respondent or customer may be lost to a pseudonym collision.

The examples are derandomized (the same on every run, as CI needs); the number of generated
cases run is printed at the end of the session (``bad-input suite: ...``).
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crm_research.cli import main  # noqa: E402
from crm_research.privacy import find_pii, fold  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = str(ROOT / "surveys" / "ecommerce_crm.yaml")
EXAMPLE = ROOT / "surveys" / "examples" / "wjx_ecommerce_crm_gbk.csv"
SALT = "bad-input-suite"
CALIBRATION_END = "2024-03-31"
#: No shrinking phase: a failure is reported as drawn (shrinking whole CLI runs takes minutes).
SETTINGS = dict(max_examples=30, deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
#: Generated cases run, by test and outcome (printed at the end of the session).
CASES: Counter = Counter()
TEXT_SUFFIXES = {".csv", ".md", ".html", ".json", ".txt", ".yaml", ".log", ".tsv"}
FULL_WIDTH = str.maketrans("0123456789@+-().", "０１２３４５６７８９＠＋－（）．")


@pytest.fixture(scope="module", autouse=True)
def _report_cases(request):
    """No debug tracebacks; at the end, say how many generated cases ran."""
    saved = os.environ.pop("CRM_RESEARCH_DEBUG", None)
    yield
    if saved is not None:
        os.environ["CRM_RESEARCH_DEBUG"] = saved
    total = sum(CASES.values())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(CASES.items()))
    line = f"bad-input suite: {total} generated cases run ({detail})"
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(line)
    else:
        print(line)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad_input")


# --------------------------------------------------------------------------- personal data
@st.composite
def mobile(draw) -> tuple[str, str]:
    """(spelling, the 11 digits) of a Chinese mobile number."""
    d = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(st.sampled_from("0123456789"),
                                                                        min_size=9, max_size=9)))
    a, b, c = d[:3], d[3:7], d[7:]
    spelling = draw(st.sampled_from([d, f"{a} {b} {c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+86 {d}", f"+86-{a}-{b}-{c}",
                                     f"(+86){d}", f"0086{d}", f"86 {a} {b} {c}", f"tel:{d}", f"user{d}"]))
    return spelling, d


@st.composite
def personal(draw) -> str:
    """One personal-data string in one of many spellings (some full-width)."""
    kind = draw(st.sampled_from(["mobile", "landline", "intl", "email", "id18", "id15", "ipv4"]))
    digits = lambda n: "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=n, max_size=n)))  # noqa: E731
    if kind == "mobile":
        s = draw(mobile())[0]
    elif kind == "landline":
        s = draw(st.sampled_from(["010-{a}", "(010) {b} {c}", "021-{a}", "+86 10 {b} {c}", "0755-{a}"])).format(
            a=digits(8), b=digits(4), c=digits(4))
    elif kind == "intl":
        s = draw(st.sampled_from(["+44 20 7946 {a}", "(415) 555-{a}", "+1 415 555 {a}", "+49 30 1234{a}"])).format(
            a=digits(4))
    elif kind == "email":
        user = draw(st.from_regex(r"[a-z][a-z0-9._]{1,10}[a-z0-9]", fullmatch=True))
        dom = draw(st.sampled_from(["example.com", "qq.com", "163.com", "mail.example.cn"]))
        s = f"{user}@{dom}"
    elif kind in ("id18", "id15"):
        region = draw(st.sampled_from(["110105", "310104", "440305", "510107"]))
        y, m, d = draw(st.integers(1940, 2005)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
        if kind == "id18":
            s = f"{region}{y:04d}{m:02d}{d:02d}{digits(3)}{draw(st.sampled_from('0123456789X'))}"  # any checksum
        else:
            s = f"{region}{y % 100:02d}{m:02d}{d:02d}{digits(3)}"
    else:
        s = ".".join(str(draw(st.integers(1, 254))) for _ in range(4))
    if draw(st.booleans()) and kind != "ipv4":
        s = s.translate(FULL_WIDTH) if draw(st.booleans()) else s.replace("@", "＠")
    return s


def planted_forms(values: list[str]) -> set[str]:
    """Each planted string, its NFKC-folded form and its digits/e-mail core (what could leak)."""
    out = set()
    for v in values:
        out.add(v)
        f = fold(v)
        out.add(f)
        digits = "".join(c for c in f if c.isdigit())
        if len(digits) >= 7 and "@" not in f and f.count(".") != 3:
            out.add(digits)
    return {o for o in out if len(o) >= 6}


# --------------------------------------------------------------------------- running and scanning
def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:   # argparse
            code = e.code if isinstance(e.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_clean_outcome(code: int, stdout: str, stderr: str, what: str) -> str:
    assert "Traceback" not in stderr and "Traceback" not in stdout, f"{what}: traceback\n{stderr[-3000:]}"
    assert code in (0, 2), f"{what}: exit {code} (70 = internal error): {stderr.strip()[:500]}"
    if code == 2:
        lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("note:", "warning:"))]
        assert lines and lines[-1].startswith("error: "), f"{what}: no one-line error: {stderr[-800:]}"
        assert sum(ln.startswith("error: ") for ln in lines) == 1, f"{what}: {stderr[-800:]}"
        return "error"
    return "ok"


def leaks(folder: Path, planted: list[str], console: str = "") -> list[str]:
    """Every planted string (exact, folded or its digits) in any written file or on the console,
    and every personal-data span find_pii reports in a written text file."""
    forms = planted_forms(planted)
    found = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        raw = p.read_bytes()
        texts = [raw.decode("utf-8", errors="replace")]
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            texts.append(raw.decode("utf-16", errors="replace"))
        for form in forms:
            if any(form in t for t in texts) or form.encode("utf-8") in raw:
                found.append(f"{p.name}: planted {form!r}")
        if p.suffix.lower() in TEXT_SUFFIXES:
            for kind, a, b in find_pii(texts[0]):   # decimals (4.111111111111112, 14489676405.624) are not PII
                found.append(f"{p.name}: find_pii {kind} {texts[0][max(0, a - 20):b + 5]!r}")
    for form in forms:
        if form in console:
            found.append(f"console: planted {form!r}")
    return found


def new_dir(work: Path, label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=work))


ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1"]


def encode(text: str, encoding: str) -> tuple[bytes, str]:
    """The bytes of ``text`` in ``encoding``, or in UTF-8 when it cannot hold the text."""
    try:
        return text.encode(encoding), encoding
    except UnicodeEncodeError:
        return text.encode("utf-8"), "utf-8"


# --------------------------------------------------------------------------- random bytes
VERBS = {
    "validate": lambda f, o: ["validate", str(f), "--instrument", INSTRUMENT, "-o", str(o), "--salt", SALT],
    "kpi": lambda f, o: ["kpi", str(f), "-o", str(o), "--no-figures", "--salt", SALT],
    "clv": lambda f, o: ["clv", str(f), "--calibration-end", CALIBRATION_END, "-o", str(o), "--salt", SALT],
}


@pytest.mark.parametrize("verb", sorted(VERBS))
@settings(**SETTINGS)
@given(data=st.one_of(st.binary(max_size=600),
                      st.text(max_size=300).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
                      st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
                                        min_size=1, max_size=5), min_size=1, max_size=8)
                      .map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8"))),
       suffix=st.sampled_from([".csv", ".txt", ".tsv", ".xlsx", ".parquet", ".sav", ".dat", ""]))
def test_random_bytes_fail_cleanly(verb, data, suffix, work):
    d = new_dir(work, f"bytes-{verb}")
    f = d / f"input{suffix}"
    f.write_bytes(data)
    code, out, err = run_cli(VERBS[verb](f, d / "out"))
    CASES[f"bytes/{verb}/{assert_clean_outcome(code, out, err, f'{verb} on {len(data)} random bytes ({suffix})')}"] += 1


# --------------------------------------------------------------------------- survey responses
@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    """The first 24 rows of the bundled messy questionnaire export (GBK, problems planted)."""
    return pd.read_csv(EXAMPLE, encoding="gb18030", dtype=str, keep_default_na=False).head(24)


@settings(**SETTINGS)
@given(st.data())
def test_validate_personal_data_anywhere(survey, work, data):
    df = survey.copy()
    planted: list[str] = []
    # ids: distinct personal-data ids for some respondents (never two spellings of one number)
    id_col = df.columns[0]
    n_ids = data.draw(st.integers(0, 6), label="personal ids")
    rows = data.draw(st.lists(st.integers(0, len(df) - 1), min_size=n_ids, max_size=n_ids, unique=True))
    used_digits: set[str] = set()
    for r in rows:
        v = data.draw(personal(), label="id")
        key = "".join(c for c in fold(v) if c.isalnum())
        if key in used_digits:
            continue
        used_digits.add(key)
        df.iloc[r, 0] = v
        planted.append(v)
    # cells: any column, any row
    for _ in range(data.draw(st.integers(0, 6), label="personal cells")):
        r, c = data.draw(st.integers(0, len(df) - 1)), data.draw(st.integers(1, len(df.columns) - 1))
        v = data.draw(personal(), label="cell")
        wrap = data.draw(st.sampled_from(["{}", "联系我 {} 谢谢", "see {}", "{}；备注"]))
        df.iloc[r, c] = wrap.format(v)
        planted.append(v)
    # headers: a column renamed, or a new column, named with personal data
    for _ in range(data.draw(st.integers(0, 2), label="personal headers")):
        v = data.draw(personal(), label="header")
        if data.draw(st.booleans()):
            c = data.draw(st.integers(1, len(df.columns) - 1))
            df = df.rename(columns={df.columns[c]: f"{df.columns[c]} {v}"})
        else:
            df[f"备注 {v}"] = "x"
        planted.append(v)
    delim = data.draw(st.sampled_from([",", ";", "\t", "|"]), label="delimiter")
    newline = data.draw(st.sampled_from(["\n", "\r\n"]), label="newline")
    text = df.to_csv(index=False, sep=delim, lineterminator=newline)
    raw, enc = encode(text, data.draw(st.sampled_from(ENCODINGS), label="encoding"))
    d = new_dir(work, "survey")
    f = d / "answers.csv"
    f.write_bytes(raw)
    argv = VERBS["validate"](f, d / "out")
    if data.draw(st.booleans(), label="declare encoding"):
        argv += ["--encoding", data.draw(st.sampled_from([enc, *ENCODINGS]), label="declared")]
    code, out, err = run_cli(argv)
    outcome = assert_clean_outcome(code, out, err, f"validate ({enc}, {delim!r})")
    CASES[f"survey/validate/{outcome}"] += 1
    found = leaks(d / "out", planted, out + err)   # the input file itself is not an output
    assert not found, f"personal data written ({enc}, {delim!r}): {found[:5]}"
    if outcome == "ok":
        kept = pd.read_csv(d / "out" / "clean.csv", dtype=str, keep_default_na=False)
        gone = pd.read_csv(d / "out" / "excluded.csv", dtype=str, keep_default_na=False)
        assert len(kept) + len(gone) == len(df), "a respondent was lost"


# --------------------------------------------------------------------------- order logs
@st.composite
def order_log(draw):
    """(frame, planted strings, number of customers): a small log whose ids may be personal data."""
    n_cust = draw(st.integers(8, 30), label="customers")
    ids, planted, seen = [], [], set()
    for i in range(n_cust):
        if draw(st.booleans()):
            v = draw(personal())
            key = "".join(c for c in fold(v) if c.isalnum())
            if key not in seen:
                seen.add(key)
                ids.append(v)
                planted.append(v)
                continue
        ids.append(f"C{i:03d}")
    rows = []
    k = 0
    for i, cid in enumerate(ids):
        for j in range(draw(st.integers(1, 5))):   # spread over half a year whatever is drawn
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=(i * 37 + j * 23 + draw(st.integers(0, 30))) % 181)
            rows.append({"customer_id": cid, "order_id": f"O{k:05d}", "timestamp": day,
                         "amount": draw(st.sampled_from([0, 9.9, 25, 120.5, 300]))})
            k += 1
    df = pd.DataFrame(rows)
    for _ in range(draw(st.integers(0, 2), label="personal extra cells")):
        v = draw(personal())
        col = draw(st.sampled_from(["note", "channel"]))
        if col not in df:
            df[col] = "web"
        df.loc[draw(st.integers(0, len(df) - 1)), col] = v
        planted.append(v)
    if draw(st.booleans()):
        v = draw(personal())
        df[f"contact {v}"] = "x"
        planted.append(v)
    return df, planted, n_cust


TIME_LAYOUTS = {"iso": (None, "%Y-%m-%d %H:%M:%S"), "ymd": ("%Y%m%d", "%Y%m%d"), "slash": ("%Y/%m/%d", "%Y/%m/%d")}


def write_log(data, df: pd.DataFrame, d: Path) -> tuple[Path, list[str], str]:
    layout = data.draw(st.sampled_from(sorted(TIME_LAYOUTS)), label="date layout")
    option, fmt = TIME_LAYOUTS[layout]
    df = df.assign(timestamp=df["timestamp"].dt.strftime(fmt))
    delim = data.draw(st.sampled_from([",", ";", "\t", "|"]), label="delimiter")
    newline = data.draw(st.sampled_from(["\n", "\r\n"]), label="newline")
    raw, enc = encode(df.to_csv(index=False, sep=delim, lineterminator=newline),
                      data.draw(st.sampled_from(ENCODINGS), label="encoding"))
    f = d / "orders.csv"
    f.write_bytes(raw)
    extra = ["--timestamp-format", option] if option else []
    if data.draw(st.booleans(), label="declare delimiter"):
        extra += ["--delimiter", {"\t": "tab", "|": "|", ",": ",", ";": ";"}[delim]]
    return f, extra, f"{layout}, {delim!r}, {enc}"


def customers_in(path: Path, column: str = "customer_id") -> set[str]:
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert column in t.columns, f"{path.name} has no {column} column"
    return set(t[column])


@settings(**SETTINGS)
@given(log=order_log(), data=st.data())
def test_kpi_personal_data_anywhere(log, data, work):
    df, planted, n_cust = log
    d = new_dir(work, "kpi")
    f, extra, what = write_log(data, df, d)
    code, out, err = run_cli(VERBS["kpi"](f, d / "out") + extra)
    outcome = assert_clean_outcome(code, out, err, f"kpi ({what})")
    CASES[f"orders/kpi/{outcome}"] += 1
    found = leaks(d / "out", planted, out + err)   # the input file itself is not an output
    assert not found, f"personal data written by kpi ({what}): {found[:5]}"
    if outcome == "ok":
        assert len(customers_in(d / "out" / "rfm.csv")) == n_cust, "a customer was lost (rfm.csv)"


@settings(**SETTINGS)
@given(log=order_log(), data=st.data())
def test_clv_personal_data_anywhere(log, data, work):
    df, planted, n_cust = log
    d = new_dir(work, "clv")
    drop = ["order_id"] + (["amount"] if data.draw(st.booleans(), label="without amount") else [])
    f, extra, what = write_log(data, df.drop(columns=drop), d)
    code, out, err = run_cli(VERBS["clv"](f, d / "out") + extra + ["--models", "bgnbd"])
    outcome = assert_clean_outcome(code, out, err, f"clv ({what})")
    CASES[f"orders/clv/{outcome}"] += 1
    found = leaks(d / "out", planted, out + err)   # the input file itself is not an output
    assert not found, f"personal data written by clv ({what}): {found[:5]}"
    if outcome == "ok":   # every customer who bought by the end of the calibration period has a row
        n_cal = df.loc[df["timestamp"] <= pd.Timestamp(CALIBRATION_END), "customer_id"].nunique()
        assert len(customers_in(d / "out" / "customers.csv")) == n_cal, "a customer was lost (customers.csv)"


# --------------------------------------------------------------------------- the scanner itself
def test_the_scanner_sees_a_leak(tmp_path):
    """The leak check is not vacuous: a planted string, its folded form or digits are found."""
    (tmp_path / "a.csv").write_text("id,score,alpha\nC1,4.111111111111112,14489676405.6240\n", encoding="utf-8")
    assert leaks(tmp_path, ["138 1234 5678"]) == []
    (tmp_path / "b.csv").write_text("id\n13812345678\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text("phone\n13912345678.0\n", encoding="utf-8")
    (tmp_path / "c.parquet").write_bytes(b"PAR1 zhang@example.com")
    found = leaks(tmp_path, ["138 1234 5678", "zhang＠example.com"], console="")
    assert any("b.csv: planted '13812345678'" in x for x in found)
    assert any("c.parquet" in x for x in found)
    assert any(x.startswith("d.csv: find_pii phone") for x in found)        # a phone stored as a number
    assert any(x.startswith("console") for x in leaks(tmp_path, ["110105199001011234"], "id 110105199001011234"))
