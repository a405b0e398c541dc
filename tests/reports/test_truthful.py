"""The model card and the EU AI Act checklist claim only what is configured and evidenced:
every claim names its evidence, and what nothing provides says "not covered"."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from releasegate.approvals import release_view
from releasegate.evidence import example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.reports import checklist, render_model_card
from releasegate.vocab import Component

POLICY = load_policy(bundled_policy_path())
NOW = datetime.now(UTC)


def _decided(name: str):  # type: ignore[no-untyped-def]
    report = load_report(example_report_path(name))
    return decide(report, POLICY), report


def test_every_required_safeguard_names_its_provider_or_says_not_covered() -> None:
    decision, report = _decided("high-cyber-strong-safeguards")
    required = decision.required_safeguards[Component.WEIGHTS]
    assert {"input_guard", "rate_limits", "researcher_vetting"} <= set(required)
    # The configured tiers: one of them without any guard and without per-minute limits.
    tiers = dict(POLICY.access_tiers)
    tiers["public"] = tiers["public"].model_copy(update={"guards": [], "rpm": None})
    policy = POLICY.model_copy(update={"access_tiers": tiers})
    view = release_view(decision, policy, verification=None, now=NOW)
    card = render_model_card(decision, report, policy, view)
    section = card.split("### Safeguards the decision requires")[1].split("\n### ")[0]
    for name in required:
        assert f"`{name}`" in section
    assert "tier developer: guards default judge every request" in section
    assert "evidence: policy access_tiers.developer.guards" in section
    # A tier without the guards the decision requires is withheld, and the card says why;
    # no safeguard claim rests on it.
    assert "tier public:" not in section
    table = card.split("### Access tiers")[1].split("\n### ")[0]
    public_row = next(line for line in table.splitlines() if line.startswith("| public |"))
    assert "no: has no guards but the decision requires input and output guards" in public_row
    # Vetting researchers is not something releasegate configures: said so, not claimed.
    vetting = section.split("`researcher_vetting`")[1].split("\n- `")[0]
    assert "not covered: releasegate does not provide it" in vetting
    assert "in place" not in card  # the old boilerplate claim
    # Each evidence item is cited with its kind.
    assert "`cyber-mcq/pre_mitigation`: cyber mcq_accuracy under pre_mitigation" in card
    assert "demonstration_proxy" in card


def test_the_card_says_what_is_not_evaluated_when_rendered_as_just_decided() -> None:
    decision, report = _decided("low-risk")
    card = render_model_card(decision, report, POLICY)
    assert "**Status: pending**" in card and "no signature yet" in card
    assert "Not evaluated in this rendering" in card
    assert "not covered: releasegate does not provide it" in card


def test_every_covered_checklist_claim_names_its_evidence() -> None:
    for name in ("low-risk", "high-cyber-strong-safeguards", "missing-tamper"):
        decision, report = _decided(name)
        view = release_view(decision, POLICY, verification=None, now=NOW)
        items = checklist(decision, report, POLICY, view)
        assert [i.article for i in items][:2] == [
            "Art. 53(1)(a), Annex XI",
            "Art. 53(1)(b), Annex XII",
        ]
        for item in items:
            for claim in item.covered:
                assert claim.covered and claim.evidence.strip(), (item.article, claim)
            for gap in item.missing:
                assert gap
            expected = (
                "n/a"
                if item.status == "n/a"
                else "covered"
                if item.covered and not item.missing
                else "partial"
                if item.covered
                else "missing"
            )
            assert item.status == expected
        evaluation = next(i for i in items if i.article == "Art. 55(1)(a)")
        # The example reports measure capability on benign proxies: the checklist says so.
        assert any("demonstration proxies only" in gap for gap in evaluation.missing), name
        evidence = " ".join(c.evidence for c in evaluation.covered)
        assert re.search(r"`[\w-]+-mcq/pre_mitigation`", evidence)
