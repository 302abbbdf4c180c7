"""Activity from sessions: visit frequency, dwell time, DAU/MAU stickiness, hand-computed."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi
from crm_research.errors import ConfigError

SESSIONS = [  # customer, start, duration (s), page views
    ("A", "2024-01-01 10:00", 100, 2), ("A", "2024-01-01 15:00", 300, 4), ("A", "2024-01-03 09:00", 200, 3),
    ("B", "2024-01-03 20:00", 50, 1), ("B", "2024-02-10 08:00", 150, 5),
    ("C", "2024-02-10 12:00", 600, 10), ("C", "2024-02-11 12:00", 0, 1),
]
ORDERS = [("A", 1, "2024-01-02", 10.0), ("C", 2, "2024-02-11", 5.0)]


@pytest.fixture(scope="module")
def eng():
    s = pd.DataFrame(SESSIONS, columns=["customer_id", "start", "duration", "page_views"])
    s["start"] = pd.to_datetime(s["start"])
    o = pd.DataFrame(ORDERS, columns=["customer_id", "order_id", "timestamp", "amount"])
    o["timestamp"] = pd.to_datetime(o["timestamp"])
    with kpi.load(o, sessions=s) as e:
        yield e


def test_monthly_activity(eng):
    a = kpi.activity_summary(eng, "month", as_of="2024-02-29").set_index("period_start")
    jan, feb = a.loc["2024-01-01"], a.loc["2024-02-01"]
    # January: visitors A, B; 4 sessions (100, 300, 200, 50 s)
    assert (jan["visitors"], jan["sessions"]) == (2, 4)
    assert jan["sessions_per_visitor"] == 2
    assert jan["mean_session_seconds"] == pytest.approx(162.5)
    assert jan["median_session_seconds"] == pytest.approx(150.0)         # (100 + 200) / 2
    assert jan["dwell_seconds_per_visitor"] == pytest.approx(325.0)      # 650 / 2
    assert jan["page_views_per_session"] == pytest.approx(2.5)           # 10 / 4
    # visitor-days: A on Jan 1 and Jan 3 (two sessions on Jan 1 count once), B on Jan 3 -> 3 over 31 days
    assert jan["days"] == 31
    assert jan["avg_daily_visitors"] == pytest.approx(3 / 31)
    assert jan["stickiness"] == pytest.approx(3 / 62)
    assert (jan["buyers"], jan["visitor_conversion"]) == (1, 0.5)
    # February (2024 is a leap year): visitors B, C; durations 150, 600, 0
    assert (feb["visitors"], feb["sessions"], feb["days"]) == (2, 3, 29)
    assert feb["mean_session_seconds"] == pytest.approx(250.0)
    assert feb["median_session_seconds"] == pytest.approx(150.0)
    assert feb["page_views_per_session"] == pytest.approx(16 / 3)
    assert feb["stickiness"] == pytest.approx((3 / 29) / 2)             # B Feb 10, C Feb 10 and 11
    assert a["complete"].all()


def test_partial_month_uses_observed_days(eng):
    a = kpi.activity_summary(eng, "month", as_of="2024-02-10").set_index("period_start")
    feb = a.loc["2024-02-01"]
    # up to Feb 10: sessions of B and C that day; 10 observed days
    assert (feb["sessions"], feb["days"], bool(feb["complete"])) == (2, 10, False)
    assert feb["avg_daily_visitors"] == pytest.approx(2 / 10)


def test_weekly_stickiness_is_dau_over_wau(eng):
    a = kpi.activity_summary(eng, "week", as_of="2024-01-07").set_index("period_start")
    wk = a.loc["2024-01-01"]
    # week of Mon Jan 1: A (Jan 1, Jan 3), B (Jan 3): 3 visitor-days / 7 days / 2 visitors
    assert wk["stickiness"] == pytest.approx(3 / 14)


def test_customer_activity_windows(eng):
    t = eng.execute(kpi.customer_activity(eng, as_of="2024-02-11", window_days=30)).set_index("customer_id")
    # recent = Jan 13 .. Feb 11, previous = Dec 14 .. Jan 12
    assert t.loc["B", ["visits_recent", "visits_previous"]].tolist() == [1, 1]
    assert t.loc["B", ["visit_seconds_recent", "visit_seconds_previous"]].tolist() == [150, 50]
    assert t.loc["A", "visits_recent"] == 0 and t.loc["A", "visit_seconds_previous"] == 600


def test_without_sessions_a_clear_error():
    o = pd.DataFrame({"customer_id": [1], "order_id": [1], "timestamp": [pd.Timestamp("2024-01-01")], "amount": [1.0]})
    with kpi.load(o) as e:
        with pytest.raises(ConfigError, match="session log"):
            kpi.activity_summary(e)



def test_a_session_log_without_page_views():
    """page_views is optional: the summary still comes out, with no page views per session."""
    orders = pd.DataFrame({"customer_id": [1, 2], "order_id": [1, 2], "timestamp": ["2024-01-05", "2024-01-20"],
                           "amount": [10.0, 5.0]})
    sessions = pd.DataFrame({"customer_id": [1, 1, 2], "start": ["2024-01-03 10:00", "2024-01-05 11:00", "2024-01-20 09:00"],
                             "duration": [60.0, 120.0, 30.0]})
    act = kpi.activity_summary(kpi.load(orders, sessions=sessions))
    assert act["sessions"].tolist() == [3] and act["visitors"].tolist() == [2]
    assert act["median_session_seconds"].tolist() == [60.0] and act["page_views_per_session"].isna().all()
