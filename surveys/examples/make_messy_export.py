"""Write a realistic, messy questionnaire-platform export of the bundled instrument.

The file imitates a 问卷星 (Wenjuanxing) "download answers as option text" export as Chinese
researchers receive it: GBK encoding with Windows line ends, platform metadata columns (序号,
提交答卷时间, 所用时间 "253秒", 来源, 来自IP), numbered question-text headers ("1、..."), answers
as Likert label text ("同意"), and the problems real data has:

- speeders (所用时间 far below the instrument's 120 s minimum),
- straight-liners (the same answer on every item),
- failed attention checks,
- a row exported twice (same 序号), a re-submission (new 序号, same answers and metadata)
  and a 序号 reused by a different respondent,
- answers that are not on the scale ("不知道", "6"), skipped items ("(跳过)", empty cells),
- a respondent under 18 (screened out) and an age that is not an option,
- personal data: phone and e-mail columns, IP addresses, and a phone number / e-mail typed
  into the free-text comment.

Everything is drawn from ``random.Random(SEED).random()`` with additions, multiplications and
comparisons only (the one stream Python guarantees across versions, and IEEE arithmetic), so
running this script again writes byte-identical files on any machine. It also writes ``<name>.manifest.json`` listing every injected
problem with its 序号 and spreadsheet row, to check a validator against.

Usage::

    python surveys/examples/make_messy_export.py            # writes next to this script
    python surveys/examples/make_messy_export.py -o DIR
"""
from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import random
from datetime import datetime, timedelta

import yaml

SEED = 20240305
N = 140
NAME = "wjx_ecommerce_crm_gbk"
HERE = Path(__file__).resolve().parent
INSTRUMENT = HERE.parent / "ecommerce_crm.yaml"

START = datetime(2024, 3, 5, 9, 0, 0)
LIKERT_ZH = ["非常不同意", "不同意", "一般", "同意", "非常同意"]


def _headers(inst: dict) -> tuple[list[str], list[str], dict[str, str]]:
    """(columns, item ids in order, header per variable) as the platform numbers them."""
    cols = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
    head: dict[str, str] = {}
    order: list[str] = []
    n = 0
    ac = inst["attention_checks"][0]
    for c in inst["constructs"]:
        for it in c.get("items", []):
            n += 1
            if c["id"] == "PF":      # label-style question: "您对<label>的评价"
                text = f"{n}、您对{it['label']['zh']}的评价"
            elif c["id"] == "SQ":    # matrix-style: "<stem>—<statement>"
                text = f"{n}、{c['name']['zh']}—{it['text']['zh']}"
            else:
                text = f"{n}、{it['text']['zh']}"
            head[it["id"]] = text
            order.append(it["id"])
            if it["id"] == ac["after"]:
                n += 1
                head[ac["id"]] = f"{n}、{ac['text']['zh']}"
                order.append(ac["id"])
    for q in inst["demographics"]:
        n += 1
        head[q["id"]] = f"{n}、{q['text']['zh']}"
        order.append(q["id"])
    for p in inst["personal_data"]:
        n += 1
        head[p["id"]] = f"{n}、{p['text']['zh']}"
        order.append(p["id"])
    n += 1
    head["comment"] = f"{n}、您对该平台还有什么建议？"
    order.append("comment")
    cols += [head[v] for v in order]
    return cols, order, head


class _Draw:
    """Reproducible draws from ``random.Random.random()`` only."""

    def __init__(self, seed: int):
        self._r = random.Random(seed)

    def u(self) -> float:
        return self._r.random()

    def int(self, lo: int, hi: int) -> int:
        """Integer in [lo, hi)."""
        return lo + int(self.u() * (hi - lo))

    def normal(self) -> float:
        """Approximately standard normal (Irwin-Hall: sum of 12 uniforms - 6)."""
        return sum(self.u() for _ in range(12)) - 6.0

    def pick(self, seq, p=None):
        if p is None:
            return seq[self.int(0, len(seq))]
        x, acc = self.u(), 0.0
        for item, w in zip(seq, p):
            acc += w
            if x < acc:
                return item
        return seq[-1]


def _likert(latent: float) -> int:
    """Ordinal answer 1..5 from a latent score (thresholds skewed towards agreement)."""
    return 1 + sum(latent > c for c in (-1.9, -1.0, -0.1, 1.0))


def build(seed: int = SEED, n: int = N) -> tuple[list[list[str]], list[str], list[dict]]:
    inst = yaml.safe_load(INSTRUMENT.read_text(encoding="utf-8"))
    cols, order, head = _headers(inst)
    rng = _Draw(seed)
    items = [it["id"] for c in inst["constructs"] for it in c.get("items", [])]
    construct_of = {it["id"]: c["id"] for c in inst["constructs"] for it in c.get("items", [])}
    constructs = list(dict.fromkeys(construct_of.values()))
    demo = {q["id"]: [o for o in q["options"]] for q in inst["demographics"]}

    rows: list[dict[str, str]] = []
    places = ["广东-广州", "北京-北京", "上海-上海", "浙江-杭州", "四川-成都"]
    for r in range(n):
        g = rng.normal()
        f = {c: 0.65 * g + 0.76 * rng.normal() for c in constructs}
        secs = max(130, min(1500, int(300 * (1 + 0.3 * rng.normal()) + 0.5)))
        # submissions every ~30 minutes between 9:00 and 22:00 from 5 March 2024
        slot = r * 30 + rng.int(0, 28)
        t = START + timedelta(days=slot // (13 * 60), minutes=slot % (13 * 60), seconds=rng.int(0, 60))
        d: dict[str, str] = {
            "序号": str(r + 1),
            "提交答卷时间": f"{t.year}/{t.month}/{t.day} {t.hour}:{t.minute:02d}:{t.second:02d}",
            "所用时间": f"{secs}秒",
            "来源": rng.pick(["手机提交", "微信", "链接"]),
            "来源详情": "直接访问" if rng.u() < 0.7 else "N/A",
            "来自IP": f"{rng.int(36, 223)}.{rng.int(0, 256)}.{rng.int(0, 256)}.{rng.int(1, 255)}({rng.pick(places)})",
        }
        for i in items:
            d[i] = LIKERT_ZH[_likert(0.8 * f[construct_of[i]] + 0.6 * rng.normal()) - 1]
        d["AC1"] = "同意"
        for q in inst["demographics"]:
            opts = demo[q["id"]]
            o = opts[1 + rng.pick(range(5), [0.3, 0.35, 0.2, 0.1, 0.05])] if q["id"] == "age_band" else rng.pick(opts)
            d[q["id"]] = o["zh"]
        has_contact = rng.u() < 0.6
        d["phone"] = f"1{rng.pick('35789')}{rng.int(0, 10)}{rng.int(10**7, 10**8):08d}" if has_contact else ""
        d["email"] = f"user{r + 1:03d}@{rng.pick(['163.com', 'qq.com', 'example.cn'])}" \
            if has_contact and rng.u() < 0.5 else ""
        d["comment"] = rng.pick(["", "", "", "物流可以再快一点", "希望客服响应更快", "整体不错", "推荐更准确一些就好了"])
        rows.append(d)

    manifest: list[dict] = []

    def note(r: int, problem: str, column: str | None = None, value: str | None = None) -> None:
        manifest.append(dict(serial=rows[r]["序号"], problem=problem, column=column, value=value))

    # speeders
    for r, s in zip((7, 33, 61, 98), (45, 62, 80, 38)):
        rows[r]["所用时间"] = f"{s}秒"
        note(r, "too_fast", "duration_sec", f"{s}秒")
    # straight-liners (they pass the attention check: it asks for 同意)
    for r, lab in zip((12, 57, 104), ("同意", "同意", "非常同意")):
        for i in items:
            rows[r][i] = lab
        note(r, "straight_lining", None, lab)
    # failed attention checks
    for r, lab in zip((20, 45, 77, 119), ("非常同意", "一般", "不同意", "")):
        rows[r]["AC1"] = lab
        note(r, "attention_failed", "AC1", lab or None)
    # answers not on the scale, skipped items
    rows[25]["SQ2"] = "不知道"
    note(25, "non_numeric", "SQ2", "不知道")
    rows[88]["LE3"] = "6"
    note(88, "out_of_range", "LE3", "6")
    for r, i, v in ((30, "CC1", "(跳过)"), (66, "UI2", ""), (66, "UI3", ""), (91, "LOY3", "")):
        rows[r][i] = v
        note(r, "missing", i, v or None)
    # demographics
    rows[40]["age_band"] = "18岁以下"
    note(40, "screened_out", "age_band", "18岁以下")
    rows[73]["age_band"] = "100岁"
    note(73, "demographic_invalid", "age_band", "100岁")
    # free text with personal data
    rows[15]["comment"] = "有问题请打我电话13912345678"
    rows[50]["comment"] = "活动通知请发到 zhang.wei@example.com 谢谢"
    note(15, "pii_redacted", head["comment"])
    note(50, "pii_redacted", head["comment"])

    # duplicates (appended at the end, as a second download merged into the first would be)
    exact = dict(rows[9])                       # the same submission exported twice
    resub = dict(rows[54])                      # re-submitted: new 序号, same everything else
    resub["序号"] = str(n + 1)
    clash = dict(rows[100])                     # 序号 reused by a different respondent
    clash["序号"] = rows[3]["序号"]
    clash["phone"], clash["email"] = "", ""
    clash["提交答卷时间"], clash["所用时间"], clash["来自IP"] = "2024/3/12 21:40:07", "287秒", "58.19.3.77(四川-成都)"
    rows += [exact, resub, clash]
    manifest.append(dict(serial=exact["序号"], problem="duplicate_id", column="respondent_id", value=exact["序号"], occurrence=2))
    manifest.append(dict(serial=exact["序号"], problem="duplicate_row", column=None, value=None, occurrence=2))
    manifest.append(dict(serial=resub["序号"], problem="duplicate_row", column=None, value=None))
    manifest.append(dict(serial=clash["序号"], problem="duplicate_id", column="respondent_id", value=clash["序号"], occurrence=2))

    # spreadsheet rows (header = row 1)
    for m in manifest:
        hits = [k for k, d in enumerate(rows) if d["序号"] == m["serial"]]
        k = hits[m.get("occurrence", 1) - 1]
        m["row"] = k + 2
        m.pop("occurrence", None)
    table = [[d[c] if c in d else "" for c in ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]]
             + [d[v] for v in order] for d in rows]
    return table, cols, manifest


def write(out_dir: Path = HERE, seed: int = SEED, n: int = N) -> tuple[Path, Path]:
    table, cols, manifest = build(seed, n)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(cols)
    w.writerows(table)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{NAME}.csv"
    csv_path.write_bytes(buf.getvalue().encode("gbk"))
    man_path = out_dir / f"{NAME}.manifest.json"
    man_path.write_text(json.dumps(dict(file=csv_path.name, encoding="gbk", seed=seed, rows=len(table),
                                        problems=sorted(manifest, key=lambda m: (m["row"], m["problem"]))),
                                   ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return csv_path, man_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default=str(HERE), help="output folder (default: next to this script)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("-n", type=int, default=N, help="respondents before duplicates are added (>= 130)")
    a = ap.parse_args(argv)
    if a.n < 130:
        ap.error("-n must be at least 130 (the injected problems use rows up to 120)")
    for p in write(Path(a.out), a.seed, a.n):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
