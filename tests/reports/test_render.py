"""Renderers: every decision file is complete, self-contained and deterministic."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import yaml

from releasegate.evidence import EXAMPLE_REPORTS, example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.reports import DECISION_FILES, checklist, domain_chart, render_all

POLICY = load_policy(bundled_policy_path())


def _render(name: str) -> tuple[dict[str, str], object]:
    report = load_report(example_report_path(name))
    decision = decide(report, POLICY)
    return {k: v.decode() for k, v in render_all(decision, report, POLICY).items()}, decision


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svgs += 1
        for key, value in attrs:
            if key in ("src", "href") and value:
                self.refs.append(value)
        if tag == "link":
            self.refs.append(str(dict(attrs)))


@pytest.mark.parametrize("name", EXAMPLE_REPORTS)
def test_every_file_renders_for_every_example(name: str) -> None:
    files, decision = _render(name)
    assert sorted(files) == sorted(DECISION_FILES)
    md = files["decision.md"]
    for component, level in decision.levels.items():  # type: ignore[attr-defined]
        assert f"| {component.value} | **{level.value}**" in md
    for rule in POLICY.rules:
        assert rule.id in md  # the full trace, matched or not


def test_html_is_self_contained_with_a_chart_per_domain() -> None:
    files, _ = _render("high-cyber-strong-safeguards")
    html = files["decision.html"]
    parser = _Collector()
    parser.feed(html)
    assert parser.refs == []  # no external stylesheet, script, image or link
    assert "<script" not in html
    assert parser.svgs == len(POLICY.domains)
    assert "<style>" in html


def test_chart_is_valid_svg_with_bands_cutoffs_and_values() -> None:
    report = load_report(example_report_path("missing-tamper"))
    decision = decide(report, POLICY)
    cbrn = next(d for d in decision.domains if d.domain == "cbrn")
    svg = domain_chart(cbrn, POLICY)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == sum(r.tier is not None for r in cbrn.readings)
    assert len(root.findall(f"{ns}line[@class='cut']")) == sum(
        len(i.cutoffs) * len(i.conditions) for i in POLICY.domains["cbrn"].indicators
    )
    assert "missing" in svg  # the post_tamper readings have no evidence, and say so


def test_model_card_front_matter_is_yaml() -> None:
    files, decision = _render("high-cyber-strong-safeguards")
    card = files["model-card.md"]
    match = re.match(r"^---\n(.*?)\n---\n", card, re.S)
    assert match
    front = yaml.safe_load(match.group(1))
    assert front["releasegate"]["levels"]["weights"] == "research_api"
    assert front["releasegate"]["decision_sha256"] == decision.content_sha256  # type: ignore[attr-defined]
    assert "## Release" in card


def test_eu_checklist_covers_articles_53_and_55() -> None:
    report = load_report(example_report_path("missing-tamper"))
    decision = decide(report, POLICY)
    items = {i.article: i for i in checklist(decision, report, POLICY)}
    for article in (
        "Art. 53(1)(a)",
        "Art. 53(1)(b)",
        "Art. 53(1)(c)",
        "Art. 53(1)(d)",
        "Art. 55(1)(a)",
        "Art. 55(1)(b)",
        "Art. 55(1)(c)",
        "Art. 55(1)(d)",
    ):
        assert any(a.startswith(article) for a in items), article
    adversarial = items["Art. 55(1)(a)"]
    assert adversarial.status == "partial"
    assert any("post_tamper" in m for m in adversarial.missing)
    assert items["Art. 53(1)(c)"].status == "missing"
    files, _ = _render("missing-tamper")
    assert "Art. 55(1)(a)" in files["eu-ai-act-checklist.md"]


def test_rendering_is_deterministic() -> None:
    first, _ = _render("critical-bio-proxy")
    second, _ = _render("critical-bio-proxy")
    assert first == second
