"""Reading and validating order/session logs (crm_research.kpi.orders, KPIEngine.load)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm_research.errors import DataFileError
from crm_research.kpi import KPIEngine, ValidationPolicy

# Spreadsheet rows: header = row 1, so the first record is row 2.
BAD_CSV = """customer_id,order_id,timestamp,amount,phone
c1,o1,2024-01-01 10:00:00,10.5,13800138000
c1,o2,not a date,5,13800138000
c2,o3,2024-01-03,-2,13900139000
c2,o4,2024-01-04,abc,
,o5,2024-01-05,3,
c3,o1,2024-01-06,4,
c3,o6,2024-01-07T08:30:00+08:00,7,
"""
# row 2 ok | row 3 bad timestamp | row 4 negative amount | row 5 bad number
# row 6 missing customer | row 7 duplicate of o1 (row 2) | row 8 ok, has a +08:00 offset


@pytest.fixture
def bad_csv(tmp_path):
    p = tmp_path / "orders.csv"
    p.write_text(BAD_CSV, encoding="utf-8")
    return p


def _orders(eng):
    return eng.execute(eng.orders.order_by("order_id"))


def test_default_policy_raises_on_first_bad_row_naming_file_row_column_value(bad_csv):
    with pytest.raises(DataFileError) as ei:
        KPIEngine.load(bad_csv)
    e = ei.value
    assert e.row == 3 and e.column == "timestamp" and e.value == "not a date"
    assert str(bad_csv) in str(e) and "row 3" in str(e) and "not a date/time" in str(e)
    assert e.hint and "bad_timestamp" in e.hint
    # the report travels with the error: every problem counted
    counts = dict(zip(e.report.counts["problem"], e.report.counts["rows"]))
    assert counts == {"missing_value": 1, "bad_timestamp": 1, "bad_number": 1, "negative_amount": 1,
                      "duplicate_order_id": 1}


def test_drop_policy_keeps_clean_rows_and_reports_each_problem(bad_csv):
    with KPIEngine.load(bad_csv, policy="drop") as eng:
        rep = eng.reports["orders"]
        assert rep.rows_read == 7 and rep.rows_kept == 2          # rows 2 and 8
        got = dict(zip(rep.counts["problem"], rep.counts["rows"]))
        assert got == {"missing_value": 1, "bad_timestamp": 1, "bad_number": 1, "negative_amount": 1,
                       "duplicate_order_id": 1}
        issues = rep.issues.set_index("problem")
        assert issues.loc["bad_timestamp", "row"] == 3
        assert issues.loc["bad_number", "row"] == 5 and issues.loc["bad_number", "value"] == "abc"
        assert issues.loc["negative_amount", "row"] == 4 and float(issues.loc["negative_amount", "value"]) == -2
        assert issues.loc["missing_value", "row"] == 6 and issues.loc["missing_value", "column"] == "customer_id"
        assert issues.loc["duplicate_order_id", "row"] == 7 and issues.loc["duplicate_order_id", "value"] == "o1"
        assert set(rep.issues["action"]) == {"dropped"}
        o = _orders(eng)
        assert list(o["order_id"]) == ["o1", "o6"]
        # the first o1 (row 2, c1) is kept, the later duplicate (row 7, c3) dropped
        assert o.loc[o["order_id"] == "o1", "customer_id"].item() == "c1"


def test_offsets_converted_to_timezone_naive_values_kept(bad_csv):
    with KPIEngine.load(bad_csv, policy="drop") as eng:
        o = _orders(eng).set_index("order_id")
        assert o.loc["o1", "timestamp"] == pd.Timestamp("2024-01-01 10:00:00")
        assert o.loc["o6", "timestamp"] == pd.Timestamp("2024-01-07 00:30:00")    # 08:30+08 -> UTC
    with KPIEngine.load(bad_csv, policy="drop", timezone="Asia/Shanghai") as eng:
        assert _orders(eng).set_index("order_id").loc["o6", "timestamp"] == pd.Timestamp("2024-01-07 08:30:00")


def test_keep_negative_amounts_as_refunds(bad_csv):
    pol = {"missing_value": "drop", "bad_timestamp": "drop", "bad_number": "drop",
           "negative_amount": "keep", "duplicate_order_id": "drop"}
    with KPIEngine.load(bad_csv, policy=pol) as eng:
        o = _orders(eng)
        assert list(o["order_id"]) == ["o1", "o3", "o6"] and o["amount"].min() == -2
        assert eng.reports["orders"].counts.set_index("problem").loc["negative_amount", "action"] == "kept"


def test_personal_data_columns_never_enter_the_engine(bad_csv):
    with KPIEngine.load(bad_csv, policy="drop") as eng:
        assert "phone" not in eng.orders.columns
        pdata = eng.reports["orders"].personal_data
        assert list(pdata["column"]) == ["phone"] and pdata["kind"].item() == "phone"
        tables = eng.sql("SELECT table_name FROM information_schema.columns WHERE column_name = 'phone'")
        assert tables.empty


def test_email_customer_ids_are_pseudonymized_with_the_privacy_salt(tmp_path):
    from crm_research.privacy import pseudonymize

    p = tmp_path / "o.csv"
    p.write_text("email,order_id,timestamp,amount\nA@x.com,1,2024-01-01,1\nb@y.org,2,2024-01-02,2\n"
                 "a@x.com,3,2024-01-03,3\n", encoding="utf-8")
    with KPIEngine.load(p, columns={"customer_id": "email"}, salt="s3cret") as eng:
        o = _orders(eng)
        expect = pseudonymize(pd.Series(["A@x.com", "b@y.org", "a@x.com"]), "s3cret", kind="email")
        assert list(o["customer_id"]) == list(expect)
        assert o["customer_id"].iloc[0] == o["customer_id"].iloc[2]        # case-insensitive e-mail
        assert not o["customer_id"].str.contains("@").any()
        assert "pseudonymized" in eng.reports["orders"].personal_data["action"].iloc[-1]


def test_missing_required_column_names_it(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("customer_id,order_id,timestamp\nc1,o1,2024-01-01\n", encoding="utf-8")
    with pytest.raises(DataFileError) as ei:
        KPIEngine.load(p)
    assert ei.value.column == "amount" and "required column missing" in str(ei.value)


def test_empty_files(tmp_path):
    header_only = tmp_path / "h.csv"
    header_only.write_text("customer_id,order_id,timestamp,amount\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="no data rows"):
        KPIEngine.load(header_only)
    zero = tmp_path / "z.csv"
    zero.write_bytes(b"")
    with pytest.raises(DataFileError, match="empty"):
        KPIEngine.load(zero)
    with pytest.raises(DataFileError, match="not found"):
        KPIEngine.load(tmp_path / "missing.csv")


def test_column_map_and_timestamp_format(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("user,oid,paid_at,total,sku\n7,100,31/01/2024 13:05,9.5,A1\n8,101,01/02/2024 00:00,1,B2\n",
                 encoding="utf-8")
    cols = {"customer_id": "user", "order_id": "oid", "timestamp": "paid_at", "amount": "total", "product_id": "sku"}
    with KPIEngine.load(p, columns=cols, timestamp_format="%d/%m/%Y %H:%M") as eng:
        o = _orders(eng)
        assert list(o.columns) == ["customer_id", "order_id", "timestamp", "amount", "product_id"]
        assert o["timestamp"].tolist() == [pd.Timestamp("2024-01-31 13:05"), pd.Timestamp("2024-02-01")]
        assert o["customer_id"].dtype.kind == "i"            # integer ids stored as BIGINT
        assert eng.has_products and not eng.has_sessions
    # the reverse direction {file column: canonical} is understood too
    rev = {v: k for k, v in cols.items()}
    with KPIEngine.load(p, columns=rev, timestamp_format="%d/%m/%Y %H:%M") as eng:
        assert len(_orders(eng)) == 2


def test_ids_with_leading_zeros_stay_text(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("customer_id,order_id,timestamp,amount\n007,1,2024-01-01,1\n7,2,2024-01-02,1\n", encoding="utf-8")
    with KPIEngine.load(p) as eng:
        o = _orders(eng)
        assert list(o["customer_id"]) == ["007", "7"]        # two different customers


def test_duplicates_kept_as_order_lines(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("customer_id,order_id,timestamp,amount,product_id\n"
                 "c1,o1,2024-01-01 10:00,10,p1\nc1,o1,2024-01-01 09:00,5,p2\nc2,o2,2024-01-02,1,p1\n",
                 encoding="utf-8")
    with KPIEngine.load(p, policy={"duplicate_order_id": "keep"}) as eng:
        o = _orders(eng)
        # one order: earliest timestamp, amount 10 + 5, the product of the earliest line
        assert len(o) == 2 and o.iloc[0]["amount"] == 15
        assert o.iloc[0]["timestamp"] == pd.Timestamp("2024-01-01 09:00") and o.iloc[0]["product_id"] == "p2"
        assert eng.execute(eng.order_lines.count()) == 3
    q = tmp_path / "q.csv"
    q.write_text("customer_id,order_id,timestamp,amount\nc1,o1,2024-01-01,1\nc2,o1,2024-01-02,1\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="different customers") as ei:
        KPIEngine.load(q, policy={"duplicate_order_id": "keep"})
    assert ei.value.row == 3


def test_parquet_rows_are_1_based_records_and_read_without_copy(tmp_path):
    df = pd.DataFrame({"customer_id": [1, 2, 3], "order_id": [10, 11, 10],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                       "amount": [1.0, -3.0, 2.0]})
    p = tmp_path / "o.parquet"
    df.to_parquet(p)
    with pytest.raises(DataFileError) as ei:
        KPIEngine.load(p)
    assert ei.value.row == 2 and ei.value.column == "amount"       # second record
    with KPIEngine.load(p, policy="drop") as eng:
        rep = eng.reports["orders"]
        assert rep.issues.set_index("problem").loc["duplicate_order_id", "row"] == 3
        assert _orders(eng)["order_id"].tolist() == [10]
        kinds = dict(eng.sql("SELECT table_name, table_type FROM information_schema.tables").values)
        assert kinds["_orders_stage"] == "VIEW"                      # Parquet is scanned, not copied


def test_dataframe_rows_are_positions_and_sessions_validated():
    orders = pd.DataFrame({"customer_id": ["a"], "order_id": ["o"], "timestamp": ["2024-01-01"], "amount": [1]})
    sessions = pd.DataFrame({"customer_id": ["a", "a", None], "start": ["2024-01-01", "2024-01-02", "2024-01-03"],
                             "duration": [10, -1, 5]})
    with pytest.raises(DataFileError) as ei:
        KPIEngine.load(orders, sessions=sessions)
    assert ei.value.row == 1 and ei.value.column == "duration"          # df.iloc[1]
    with KPIEngine.load(orders, sessions=sessions, session_policy="drop") as eng:
        assert eng.execute(eng.sessions.count()) == 1
        assert set(eng.reports["sessions"].counts["problem"]) == {"missing_value", "negative_value"}


def test_database_file_reopen_and_no_silent_reload(tmp_path):
    orders = pd.DataFrame({"customer_id": [1, 1], "order_id": [1, 2],
                           "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01"]), "amount": [1.0, 2.0]})
    db = tmp_path / "shop.duckdb"
    with KPIEngine.load(orders, database=db) as eng:
        assert eng.max_date() == dt.date(2024, 2, 1)
    with KPIEngine.open(db) as eng:
        assert eng.execute(eng.orders.count()) == 2
    with pytest.raises(DataFileError, match="already holds"):
        KPIEngine.load(orders, database=db)
    with KPIEngine.load(orders.iloc[:1], database=db, replace=True) as eng:
        assert eng.execute(eng.orders.count()) == 1


def test_policy_coercion():
    assert ValidationPolicy.coerce("drop").bad_number == "drop"
    assert ValidationPolicy.coerce({"negative_amount": "keep"}).negative_amount == "keep"
    with pytest.raises(ValueError):
        ValidationPolicy.coerce({"bad_timestamp": "keep"})
    with pytest.raises(ValueError):
        ValidationPolicy.coerce({"typo": "drop"})


def test_from_ibis_runs_the_same_definitions_on_tables_it_did_not_load():
    import ibis

    from crm_research import kpi

    df = pd.DataFrame({"customer_id": [1, 1, 2, 3], "order_id": [1, 2, 3, 4],
                       "timestamp": pd.to_datetime(["2024-01-05", "2024-02-05", "2024-01-10", "2024-02-20"]),
                       "amount": [1.0, 2.0, 3.0, 4.0]})
    import duckdb

    raw = duckdb.connect()
    raw.register("df_view", df)
    raw.execute("CREATE TABLE orders_dw AS SELECT * FROM df_view")
    con = ibis.duckdb.from_connection(raw)
    eng = KPIEngine.from_ibis(con.table("orders_dw"))
    with KPIEngine.load(df) as ref:
        a = kpi.cohort_retention(eng, as_of="2024-02-29")
        b = kpi.cohort_retention(ref, as_of="2024-02-29")
        pd.testing.assert_frame_equal(a, b)
        # January cohort {1, 2}: customer 1 back in February -> 1/2
        assert a.loc[(a["cohort"] == "2024-01-01") & (a["period"] == 1), "retention_rate"].item() == 0.5
    with pytest.raises(Exception, match="missing"):
        KPIEngine.from_ibis(con.table("orders_dw").drop("amount"))


def test_integer_phone_numbers_as_customer_ids_are_found_and_small_ids_are_not(tmp_path):
    # the personal-data scan reads back only integer ids of 11+ digits: a mobile number stored
    # as an integer must still be found and pseudonymized, plain small ids left alone
    import pandas as pd

    from crm_research import kpi

    df = pd.DataFrame({"customer_id": [13812345678, 2, 9999999999], "order_id": [1, 2, 3],
                       "timestamp": pd.to_datetime(["2024-01-05", "2024-01-06", "2024-01-07"]),
                       "amount": [10.0, 5.0, 2.0]})
    p = tmp_path / "phones.parquet"
    df.to_parquet(p)
    with kpi.load(p, salt="s") as eng:
        pdata = eng.reports["orders"].personal_data
        assert list(pdata["kind"]) == ["phone"]
        ids = set(eng.execute(eng.orders)["customer_id"].astype(str))
        assert "13812345678" not in ids and len(ids) == 3
    df["customer_id"] = [1, 2, 9999999999]
    df.to_parquet(p)
    with kpi.load(p) as eng:
        assert eng.reports["orders"].personal_data.empty
        assert set(eng.execute(eng.orders)["customer_id"]) == {1, 2, 9999999999}


def test_numbers_beyond_1e15_are_bad_numbers(tmp_path):
    # an amount of 1e30 is no amount (and exact sums, kpi.sums, need the room): reported with
    # its row and column like any bad number, never an error deep inside a KPI query
    p = tmp_path / "orders.csv"
    p.write_text("customer_id,order_id,timestamp,amount\n1,1,2024-01-01,1e30\n1,2,2024-02-01,5\n"
                 "2,3,2024-02-03,-2e15\n2,4,2024-02-05,999999999999999\n")
    with pytest.raises(DataFileError) as e:
        KPIEngine.load(p)
    msg = str(e.value)
    assert "row 2" in msg and "'amount'" in msg and "1e15" in msg and "2 row(s)" in msg
    with KPIEngine.load(p, policy={"bad_number": "drop"}) as eng:
        assert eng.reports["orders"].rows_kept == 2
        assert eng.execute(eng.orders.amount.sum()) == 5 + 999999999999999
