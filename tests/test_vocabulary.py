"""One output vocabulary: no table the package returns uses a forbidden column name.

lavaan's names everywhere (est, se, z, pvalue, ci.lower, ci.upper, std.all ...). The main
table-returning functions of every analysis module are called on small bundled data and every
DataFrame they return -- directly, in dicts and lists, or as attributes of result objects -- is
checked. The README's section "One output vocabulary" documents the same list.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pytest

from _helpers import INSTRUMENT, REF, ROOT, clean_responses

#: Forbidden as output column names anywhere in the package (issue 11).
FORBIDDEN = {"p", "p_value", "pval", "p_adj", "ci_low", "ci_high", "ci95_low", "ci95_high", "lower", "upper",
             "ci_lower", "ci_upper", "estimate", "std_err", "stderr", "se_boot"}
#: lavaan-style dotted names that start with a forbidden word but are part of the vocabulary.
ALLOWED_DOTTED = {"p.adjust"}

HS = REF / "HolzingerSwineford1939.csv"
HS_INSTRUMENT = REF / "hs_abilities.yaml"
HS_3F = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
CDNOW = ROOT / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"


def forbidden_in(name: Any) -> bool:
    """Whether a column name is forbidden: the name itself, or its first dotted part
    (``ci_low.treated``, ``p.g1``) unless the dotted name is lavaan's (``p.adjust``)."""
    if isinstance(name, tuple):  # MultiIndex columns
        return any(forbidden_in(n) for n in name)
    if not isinstance(name, str):
        return False
    low = name.lower()
    if low in FORBIDDEN:
        return True
    head = re.split(r"[.]", low, maxsplit=1)[0]
    return head in FORBIDDEN and low not in ALLOWED_DOTTED


def frames(obj: Any, where: str = "result", depth: int = 0, seen: set | None = None) -> Iterator[tuple[str, pd.DataFrame]]:
    """Every DataFrame reachable from ``obj``: itself, items of dicts/lists/tuples, attributes
    (instance attributes, dataclass fields and properties), a few levels deep."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 4:
        return
    seen.add(id(obj))
    if isinstance(obj, pd.DataFrame):
        yield where, obj
        return
    if isinstance(obj, pd.Series):
        if obj.index.name is not None or isinstance(obj.index, pd.MultiIndex):
            yield where, obj.to_frame().reset_index().iloc[:0]  # index names become columns on export
        return
    if isinstance(obj, (str, bytes, int, float, bool, type(None), Path)) or callable(obj) and not hasattr(obj, "__dict__"):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from frames(v, f"{where}[{k!r}]", depth + 1, seen)
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj[:50]):
            yield from frames(v, f"{where}[{i}]", depth + 1, seen)
        return
    if type(obj).__module__.split(".")[0] != "crm_research":
        return  # only the package's own result objects are walked
    names = set(getattr(obj, "__dict__", {}))
    if dataclasses.is_dataclass(obj):
        names |= {f.name for f in dataclasses.fields(obj)}
    for klass in type(obj).__mro__:
        names |= {k for k, v in vars(klass).items() if isinstance(v, (property,))}
    for name in sorted(names):
        if name.startswith("_"):
            continue
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001 - a property that does not apply to this result
            continue
        yield from frames(value, f"{where}.{name}", depth + 1, seen)


def bad_columns(obj: Any) -> list[str]:
    out = []
    for where, df in frames(obj):
        cols = list(df.columns) + [n for n in df.index.names if n is not None]
        out += [f"{where}: {c!r}" for c in cols if forbidden_in(c)]
    return out


# --------------------------------------------------------------------------- the walker itself
def test_forbidden_names():
    assert all(forbidden_in(n) for n in ("p", "P", "ci_low", "ci_low.treated", "p.g1", "estimate", ("x", "pval")))
    assert not any(forbidden_in(n) for n in ("pvalue", "pvalue.adj", "p.adjust", "ci.lower", "ci.upper", "est",
                                             "std.all", "rmsea.ci.lower", "se", "upper_bound_note", 3))


def test_walker_finds_frames_inside_result_objects():
    @dataclasses.dataclass
    class Inner:
        t: pd.DataFrame

    Inner.__module__ = "crm_research.fake"

    class Outer:
        def __init__(self):
            self.tables = {"a": pd.DataFrame({"est": [1.0], "ci_low": [0.5]})}
            self.inner = [Inner(pd.DataFrame({"p_value": [0.1]}))]

        @property
        def table(self):
            return pd.DataFrame({"upper": [1]})

    Outer.__module__ = "crm_research.fake"
    assert sorted(bad_columns(Outer())) == ["result.inner[0].t: 'p_value'", "result.table: 'upper'",
                                            "result.tables['a']: 'ci_low'"]
    assert bad_columns(pd.DataFrame({"est": [1], "ci.lower": [0]})) == []


# --------------------------------------------------------------------------- the package's outputs
def _hs():
    return pd.read_csv(HS)


def _inst(path=INSTRUMENT):
    from crm_research.instruments import load_instrument

    return load_instrument(path)


def _seed_survey():
    return pd.read_csv(REF / "seed_survey_a.csv")


def sem_fit():
    from crm_research import sem

    return sem.fit(HS_3F, _hs())


def sem_multigroup_and_compare():
    from crm_research import sem

    hs = _hs()
    free = sem.fit(HS_3F, hs, group="school")
    equal = sem.fit(HS_3F, hs, group="school", group_equal=["loadings"])
    return {"free": free, "equal": equal, "comparison": sem.compare_models(free, equal)}


def measurement_report():
    from crm_research import measurement

    return measurement.assess_measurement(_hs(), _inst(HS_INSTRUMENT), missing="listwise", harman_cfa=True)


def measurement_functions():
    from crm_research import measurement

    hs = _hs()
    res = sem_fit()
    return {"loadings": measurement.standardized_loadings(res),
            "correlations": measurement.latent_correlations(res),
            "htmt": measurement.htmt(hs, {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"]}),
            "reliability": measurement.reliability_table(hs, {"visual": ["x1", "x2", "x3"],
                                                              "textual": ["x4", "x5", "x6"]}, res),
            "harman": measurement.harman_test(hs, [f"x{i}" for i in range(1, 10)])}


def hypotheses_test_model():
    from crm_research import hypotheses

    return hypotheses.test_model(_hs(), _inst(HS_INSTRUMENT), "both", missing="listwise")


def hypotheses_tables():
    from crm_research import hypotheses

    t = hypotheses_test_model()
    res = t.results["model"]
    return {"indirect": hypotheses.indirect_effects(res), "mediation": hypotheses.mediation_table(res),
            "relative": hypotheses.relative_effects(res)}
    # (format_hypothesis_table is a display table: its headers are labels such as "p" and "95% CI")


def invariance_steps():
    from crm_research.invariance import measurement_invariance

    return measurement_invariance(HS_3F, _hs(), "school", missing="listwise")


def invariance_paths():
    from crm_research.invariance import compare_paths

    return compare_paths("both", _hs(), "school", instrument=_inst(HS_INSTRUMENT), missing="listwise")


def kpi_suite():
    from crm_research import kpi
    from crm_research.simulate import simulate_transactions

    log = simulate_transactions(300, seed=4)
    survey = pd.DataFrame({"respondent_id": [f"r{i}" for i in range(1, 61)],
                           "SAT": [(i * 7) % 5 + 1 for i in range(60)]})
    link = pd.DataFrame({"respondent_id": survey["respondent_id"], "customer_id": range(1, 61)})
    with kpi.load(log.orders, sessions=log.sessions) as eng:
        return kpi.kpi_suite(eng, as_of="2023-12-31", survey=survey, survey_options={"link": link})


def clv_models():
    from crm_research import clv

    orders = clv.read_cdnow(CDNOW)
    summary = clv.rfm_summary(orders, calibration_end=clv.CDNOW_CALIBRATION_END,
                              observation_end=clv.CDNOW_OBSERVATION_END, freq="W")
    bg, pn, gg = clv.fit_bgnbd(summary), clv.fit_pareto_nbd(summary), clv.fit_gamma_gamma(summary)
    out = {"summary": summary, "bgnbd": bg, "pareto": pn, "gamma_gamma": gg,
           "clv": clv.customer_lifetime_value(bg, gg, summary, horizon=3, discount_rate=0.01),
           "holdout": clv.calibration_holdout(bg, summary), "published": clv.cdnow_published()}
    out["replication"] = clv.replication_table([bg, pn, gg])
    return out


def cases_evaluation():
    from crm_research.cases import evaluate_case, load_case

    case = load_case("r2_retention_strategies")
    return evaluate_case(case, seed=3)


def cases_statistics():
    from crm_research.cases import compare_means, compare_rates

    rows1 = pd.DataFrame({"customer_id": range(30), "num": [i % 3 == 0 for i in range(30)], "den": 1})
    rows0 = pd.DataFrame({"customer_id": range(30, 60), "num": [i % 2 == 0 for i in range(30)], "den": 1})
    # one result per comparison: the keys become the columns of the case evaluation table
    return {"rates": pd.DataFrame([compare_rates(rows1, rows0)]),
            "means": pd.DataFrame([compare_means([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 3.0, 4.0, 6.0, 7.0])])}


def responses_prepared(tmp_path):
    from crm_research.responses import prepare_responses

    inst = _inst()
    p = tmp_path / "responses.csv"
    clean_responses(inst, 40).to_csv(p, index=False)
    return prepare_responses(p, inst)


def study_tables():
    from crm_research import study

    inst = _inst()
    sample = study.load_study_sample(None, inst, n=120, seed=5)
    return {"items": study.item_statistics(sample.data, inst), "shares": study.answer_shares(sample.data, inst),
            "missing": study.missingness_summary(sample), "screening": study.screening_table(sample),
            "careless": study.careless_detection(sample)}


def simulate_survey_sample():
    from crm_research.simulate import load_population, simulate_survey

    return simulate_survey(load_population(ROOT / "surveys" / "ecommerce_crm_population.yaml"), 80, seed=2)


def reporting_tables():
    from crm_research import reporting

    res = sem_fit()
    return {"fit": reporting.fit_table(res.fit_measures), "loadings": reporting.loadings_table(res.estimates)}


def sem_estimators_and_diagnostics():
    from crm_research import sem

    hs = _hs()
    mlr = sem.fit(HS_3F, hs, estimator="MLR")
    cut = hs.assign(**{f"x{i}": pd.cut(hs[f"x{i}"], 3, labels=False) for i in range(1, 10)})
    wlsmv = sem.fit(HS_3F, cut, ordered=True)
    boot = sem.fit(HS_3F, hs, se="bootstrap", bootstrap=60, seed=1)
    return {"mlr": mlr, "wlsmv": wlsmv, "modindices": sem.modindices(mlr), "mi_ordinal": sem.modindices(wlsmv),
            "std": sem.standardized_solution(mlr), "std_ordinal": sem.standardized_solution(wlsmv),
            "std_boot": sem.standardized_solution(boot, ci="bootstrap"),
            "scaled_lrt": sem.compare_models(mlr, sem.fit(HS_3F + "\nvisual ~~ 0*textual", hs, estimator="MLR"))}


def normality_tables():
    from crm_research import normality

    hs = _hs()
    items = [f"x{i}" for i in range(1, 10)]
    return {"mardia": normality.mardia(hs, items), "items": normality.item_distributions(hs, items),
            "advice": normality.recommend_estimator(hs, items)}


def pls_tables():
    from crm_research import pls

    mobi = pd.read_csv(ROOT / "tests" / "data" / "ecsi" / "mobi.csv")
    model = (ROOT / "tests" / "data" / "ecsi" / "ecsi.lav").read_text(encoding="utf-8")
    res = pls.fit(model, mobi, bootstrap=100, seed=1)
    small = "IMAG =~ IMAG1 + IMAG2 + IMAG3\nCUSL =~ CUSL1 + CUSL2 + CUSL3\nCUSL ~ IMAG"
    grouped = mobi.assign(g=(mobi["CUSA1"] > 7).astype(int))
    return {"fit": res, "predict": pls.predict(small, mobi, k=5, repeats=1, seed=1),
            "blindfolding": pls.blindfolding(small, mobi),
            "mga": pls.multigroup(small, grouped, "g", test="both", n=100, seed=1)}


def methods_side_by_side():
    from crm_research import hypotheses, methods

    hs, inst = _hs(), _inst(HS_INSTRUMENT)
    cb = hypotheses.test_model(hs, inst, "mediated", missing="listwise")
    pl = methods.test_pls_model(hs, inst, "mediated", bootstrap=100, seed=1)
    return {"pls": pl, "both": methods.compare_methods(cb, pl)}


CALLS: dict[str, Callable[..., Any]] = {
    "sem.fit": sem_fit, "sem.multigroup+compare_models": sem_multigroup_and_compare,
    "measurement.assess_measurement": measurement_report, "measurement.functions": measurement_functions,
    "hypotheses.test_model": hypotheses_test_model, "hypotheses.tables": hypotheses_tables,
    "invariance.measurement_invariance": invariance_steps, "invariance.compare_paths": invariance_paths,
    "kpi.kpi_suite": kpi_suite, "clv": clv_models, "cases.evaluate_case": cases_evaluation,
    "cases.effects": cases_statistics, "responses.prepare_responses": responses_prepared,
    "study": study_tables, "simulate.simulate_survey": simulate_survey_sample, "reporting.tables": reporting_tables,
    "sem.estimators+diagnostics": sem_estimators_and_diagnostics, "normality": normality_tables,
    "pls": pls_tables, "methods.compare_methods": methods_side_by_side,
}


@pytest.mark.parametrize("name", list(CALLS))
def test_no_forbidden_column_names(name, tmp_path):
    fn = CALLS[name]
    out = fn(tmp_path) if "tmp_path" in fn.__code__.co_varnames[:fn.__code__.co_argcount] else fn()
    found = list(frames(out))
    assert found, f"{name}: no DataFrame reached (the walker or the call is broken)"
    bad = bad_columns(out)
    assert not bad, f"{name} returns forbidden column names (use lavaan's: est, pvalue, ci.lower, ci.upper):\n" \
                    + "\n".join(bad)


def test_readme_documents_the_vocabulary():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## One output vocabulary" in text
    section = text.split("## One output vocabulary", 1)[1].split("\n## ", 1)[0]
    for name in ("est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.all", "pvalue.adj", "ci.level"):
        assert f"`{name}`" in section, name
    for name in FORBIDDEN:
        assert f"`{name}`" in section, name
