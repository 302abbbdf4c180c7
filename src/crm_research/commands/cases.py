"""``crm-research cases``: evaluate a case's strategies, or list the bundled cases."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "cases", help="evaluate a case's strategies (before/after, A/B, DiD) or list the bundled cases",
        description="Evaluate every strategy of a case file on its KPIs with the case's comparison designs "
                    "(before/after, treated vs control, A/B test, difference-in-differences): the test that "
                    "fits each KPI, confidence intervals, effect sizes, multiple-testing correction, "
                    "identification checks and a verdict per strategy and KPI. Writes results.csv, "
                    "summary.txt, series.csv, event_study.csv, kpi_framework.csv and figures/ into OUTDIR.",
        epilog="examples:\n"
               "  crm-research cases --list\n"
               "  crm-research cases cases/r2_retention_strategies.yaml -o reports/cases/r2\n"
               "  crm-research cases r0_yuexuan_platform --seed 7 --write-data reports/yuexuan_data",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("case", nargs="?", help="case YAML file, or the id of a bundled case")
    p.add_argument("-o", "--out", help="output folder (default: reports/cases/<case id>)")
    p.add_argument("--force", action="store_true", help="overwrite results already in the output folder")
    p.add_argument("--list", action="store_true", help="list the bundled cases and exit")
    p.add_argument("--kpis", action="store_true", help="list the KPI vocabulary and exit")
    p.add_argument("--seed", type=int, help="simulated cases: use this seed instead of the case's")
    p.add_argument("--customers", type=int, help="simulated cases: number of customers")
    p.add_argument("--alpha", type=float, help="significance level (default: the case's, usually 0.05)")
    p.add_argument("--correction", choices=["holm", "bonferroni", "fdr_bh", "none"],
                   help="multiple-testing correction across KPIs (default: the case's, usually holm)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--write-data", metavar="DIR", help="also write the case's (simulated) data tables as CSV to DIR")
    p.set_defaults(func=run)


def _list() -> int:
    from ..cases.definition import bundled_cases, cases_dir, load_case

    paths = bundled_cases()
    if not paths:
        print("no bundled cases found (set CRM_RESEARCH_CASES to a folder of case files)")
        return 1
    print(f"bundled cases in {cases_dir()}:")
    for p in paths:
        c = load_case(p)
        designs = sorted({d for s in c.strategies for d in s.designs})
        src = "simulated" if c.simulate is not None else "data files"
        print(f"  {c.id:<30} {c.subject['kind']:<8} {len(c.lifecycle)} stages, {len(c.strategies)} strategies, "
              f"{len(c.kpis)} KPIs; {', '.join(designs)}; {src}")
        print(f"  {'':<30} {c.name('en')}")
    return 0


def _kpis() -> int:
    from ..cases.vocabulary import KPIS

    for k in KPIS.values():
        print(f"  {k.id:<24} {k.zh:<10} {k.en:<36} {k.kind:<6} {k.numerator} / {k.denominator}")
    return 0


def run(args) -> int:
    from pathlib import Path

    from ..errors import CRMResearchError

    if args.list:
        return _list()
    if args.kpis:
        return _kpis()
    if not args.case:
        raise CRMResearchError("no case given", hint="crm-research cases CASE.yaml, or --list to see the bundled cases")

    from ..cases.definition import load_case
    from ..cases.evaluate import OUTPUT_FILES, evaluate_case, write_evaluation

    case = load_case(args.case)
    out = Path(args.out) if args.out else Path("reports") / "cases" / case.id
    existing = [out / f for f in OUTPUT_FILES if (out / f).exists()]
    if existing and not args.force:  # check before the (slower) evaluation
        raise CRMResearchError(f"{out}: already holds results ({existing[0].name}); not overwritten",
                               hint="choose another folder with -o or pass --force")
    if args.write_data and case.simulate is None:
        raise CRMResearchError(f"{case.path}: --write-data applies to simulated cases; this case reads data files")
    ev = evaluate_case(case, seed=args.seed, customers=args.customers, alpha=args.alpha, correction=args.correction)
    paths = write_evaluation(ev, out, force=args.force, figures=not args.no_figures)
    if args.write_data:
        data_paths = ev.data.write(args.write_data, overwrite=args.force)
        paths.update({f"data_{k}": v for k, v in data_paths.items()})
    print(ev.summary())
    print()
    for kind, path in paths.items():
        print(f"  {kind:<20} {path}")
    return 0
