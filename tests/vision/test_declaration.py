"""Declaration rules of the decision policy: mismatch, origin risk, declared value (the table in docs/service.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from tests.factories import physics_parcel as parcel
from xscreen.errors import ConfigError
from xscreen.resources import DEFAULT_POLICY_FILE
from xscreen.vision.composition import measure_composition
from xscreen.vision.declaration import Declaration
from xscreen.vision.detections import Detections
from xscreen.vision.policy import Decision, Policy, build_policy, load_policy
from xscreen.vision.scan import Scan
from xscreen.vision.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
DEFAULT = load_policy(DEFAULT_POLICY_FILE)


def dets(*rows: tuple[str, float]) -> Detections:
    if not rows:
        return Detections.empty()
    return Detections([[0, 0, 10, 10]] * len(rows), [s for _, s in rows], [TAXONOMY.id_of(n) for n, _ in rows])


def decide(policy: Policy, detections: Detections, scan: Scan, **declared: Any) -> Decision:
    return policy.decide(detections, dataclasses.replace(scan, declaration=Declaration(**declared)))


def with_declaration(**block: Any) -> Policy:
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    for key, value in block.items():
        data["declaration"][key] = value
    return build_policy(data, taxonomy=TAXONOMY)


@pytest.mark.parametrize("kind", ["dual_energy", "colour"])
def test_composition_tells_dense_organic_from_dense_metal(kind: str) -> None:
    water = measure_composition(parcel("water", 10.0, 0.25, kind), dense_attenuation=0.6)
    steel = measure_composition(parcel("steel", 8.0, 0.25, kind), dense_attenuation=0.6)
    thin = measure_composition(parcel("water", 1.0, 0.25, kind), dense_attenuation=0.6)  # a few letters
    assert water is not None and steel is not None and thin is not None
    assert water.dense_organic == pytest.approx(0.25) and water.dense_inorganic == 0
    assert steel.dense_inorganic == pytest.approx(0.25) and steel.dense_organic == 0
    assert thin.dense_organic == thin.dense_inorganic == 0
    assert measure_composition(parcel("water", 10.0, 0.25, "gray"), dense_attenuation=0.6) is None  # one energy: no material


# The table in docs/service.md, row by row: the default policy (and its variants) on declared parcels.
ORGANIC_MASS = parcel("water", 10.0, 0.25)  # 10 cm of organic matter over a quarter of the scan
EMPTY = parcel()
ELECTRONICS = parcel("steel", 8.0, 0.5)  # dense metal over half the scan


@pytest.mark.parametrize(
    ("detections", "scan", "declared", "verdict", "rules"),
    [
        # mismatch: letters with a dense organic mass
        ((), ORGANIC_MASS, {"contents": "Letters and documents"}, "inspect", ["declaration_mismatch"]),
        ((), ORGANIC_MASS, {"hs_code": "4802.10"}, "inspect", ["declaration_mismatch"]),  # HS chapter 48: paper
        ((), ORGANIC_MASS, {"contents": "Books"}, "clear", []),  # books are dense organic themselves
        ((), ORGANIC_MASS, {"contents": "letters and books"}, "clear", []),  # the most lenient matched profile wins
        ((), ORGANIC_MASS, {"contents": "ceramic vase"}, "clear", []),  # no profile: decided as before
        ((), EMPTY, {"contents": "letters"}, "clear", []),
        # mismatch: a threat the declaration does not explain
        ((("firearm_part", 0.30),), EMPTY, {"contents": "clothes"}, "inspect", ["detection", "declaration_mismatch"]),
        ((("firearm_part", 0.45),), EMPTY, {"contents": "cosmetics"}, "hold", ["detection", "declaration_mismatch"]),
        ((("firearm_part", 0.15),), EMPTY, {"contents": "books"}, "inspect", ["declaration_mismatch"]),  # below firearms' inspect 0.20
        ((("firearm_part", 0.05),), EMPTY, {"contents": "books"}, "clear", []),  # below min_score 0.10
        ((("drug_bulk", 0.15),), EMPTY, {"contents": "books"}, "inspect", ["detection", "declaration_mismatch"]),  # drugs inspect whatever the card reports
        ((("knife", 0.40),), EMPTY, {"contents": "kitchen knives"}, "inspect", ["detection"]),  # declared: explained
        ((("knife", 0.40),), EMPTY, {"contents": "t-shirt"}, "inspect", ["detection", "declaration_mismatch"]),
        ((("drug_tablets", 0.20),), EMPTY, {"contents": "vitamins"}, "inspect", ["detection"]),
        ((("tool", 0.90),), EMPTY, {"contents": "letters"}, "clear", []),  # benign classes are never a mismatch
        # the shipped policy names no origin countries and has no value rule
        ((("firearm_part", 0.15),), EMPTY, {"origin": "XX"}, "clear", []),
        ((), ELECTRONICS, {"value": 1.0}, "clear", []),
    ],
)
def test_default_declaration_rules(detections: tuple, scan: Scan, declared: dict, verdict: str, rules: list[str]) -> None:
    decision = decide(DEFAULT, dets(*detections), scan, **declared)
    assert decision.verdict == verdict
    assert [r.rule for r in decision.reasons] == rules
    assert all(r.detail for r in decision.reasons if r.rule != "detection")


def test_mismatch_reason_names_the_profile_and_the_share() -> None:
    (reason,) = decide(DEFAULT, Detections.empty(), ORGANIC_MASS, contents="letters").reasons
    assert (reason.verdict, reason.detection, reason.threshold) == ("inspect", None, 0.02)
    assert reason.score == pytest.approx(0.25) and "documents" in (reason.detail or "") and "organic" in (reason.detail or "")
    (weak,) = decide(DEFAULT, dets(("firearm_part", 0.15)), EMPTY, contents="books").reasons
    assert (weak.detection, weak.class_name, weak.category, weak.threshold) == (0, "firearm_part", "firearms", 0.10)


def test_material_limits_do_not_apply_to_gray_scans() -> None:
    assert decide(DEFAULT, Detections.empty(), parcel("water", 10.0, 0.25, "gray"), contents="letters").verdict == "clear"


def test_a_policy_may_hold_on_a_mismatch_alone() -> None:
    strict = with_declaration(mismatch={**yaml.safe_load(DEFAULT_POLICY_FILE.read_text())["declaration"]["mismatch"], "verdict": "hold"})
    decision = decide(strict, Detections.empty(), ORGANIC_MASS, contents="letters")
    assert decision.verdict == "hold" and decision.reasons[0].rule == "declaration_mismatch"


def test_the_test_parcels_pass_the_image_rules() -> None:
    for scan in (EMPTY, ORGANIC_MASS, ELECTRONICS, parcel("water", 10.0, 0.25, "gray"), parcel(kind="colour")):
        assert DEFAULT.decide(Detections.empty(), scan).verdict == "clear"


def test_without_a_declaration_nothing_changes() -> None:
    assert DEFAULT.decide(dets(("firearm_part", 0.15)), EMPTY).verdict == "clear"
    assert DEFAULT.decide(Detections.empty(), ORGANIC_MASS).verdict == "clear"


RISKY = with_declaration(origin_risk={"countries": ["xx", "Atlantis"], "inspect": {"firearms": 0.10}, "hold": {"firearms": 0.30}})


@pytest.mark.parametrize(
    ("detections", "origin", "verdict", "rules"),
    [
        ((("firearm_part", 0.15),), "XX", "inspect", ["origin_risk"]),  # lower inspect threshold, any case
        ((("firearm_part", 0.15),), " atlantis ", "inspect", ["origin_risk"]),
        ((("firearm_part", 0.15),), "YY", "clear", []),  # not listed
        ((("firearm_part", 0.15),), None, "clear", []),
        ((("firearm_part", 0.25),), "XX", "inspect", ["detection"]),  # already inspect by its own rule: nothing added
        ((("knife", 0.15),), "XX", "clear", []),  # category not named
        ((("firearm", 0.35),), "XX", "hold", ["origin_risk", "detection"]),  # the lower hold threshold
        ((("firearm", 0.25),), "XX", "inspect", ["detection"]),
    ],
)
def test_origin_risk(detections: tuple, origin: str | None, verdict: str, rules: list[str]) -> None:
    decision = decide(RISKY, dets(*detections), EMPTY, origin=origin)
    assert decision.verdict == verdict and [r.rule for r in decision.reasons] == rules


VALUED = with_declaration(declared_value={"max_value": 50, "min_dense_inorganic": 0.15})


@pytest.mark.parametrize(
    ("scan", "value", "verdict"),
    [
        (ELECTRONICS, 10.0, "inspect"),
        (ELECTRONICS, 50.0, "inspect"),  # at most max_value
        (ELECTRONICS, 500.0, "clear"),
        (ELECTRONICS, None, "clear"),  # no value declared
        (parcel("steel", 8.0, 0.1), 10.0, "clear"),  # too little dense inorganic matter
        (ORGANIC_MASS, 10.0, "clear"),
    ],
)
def test_declared_value_rule(scan: Scan, value: float | None, verdict: str) -> None:
    decision = decide(VALUED, Detections.empty(), scan, value=value, contents="gift")
    assert decision.verdict == verdict
    assert [r.rule for r in decision.reasons] == (["declared_value"] if verdict == "inspect" else [])


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"mismatch": {"profiles": {"x": {"expected_categories": ["explosives"]}}}}, "unknown categories"),
        ({"origin_risk": {"inspect": {"bombs": 0.1}}}, "unknown categories"),
        ({"origin_risk": {"inspect": {"drugs": 1.5}}}, "less than or equal to 1"),
        ({"mismatch": {"profiles": {"x": {"max_dense": {"organic": -0.1}}}}}, "greater than or equal to 0"),
        ({"mismatch": {"profiles": {"x": {"keywords": ["two words"]}}}}, "one word"),
        ({"mismatch": {"profiles": {"x": {"hs_chapters": [100]}}}}, "1 to 99"),
        ({"mismatch": {"profiles": {"x": {"max_dense": {"plastic": 0.1}}}}}, "max_dense"),
        ({"mismatch": {"verdict": "clear"}}, "verdict"),
        ({"declared_value": {"max_value": 10}}, "min_dense_inorganic"),
    ],
)
def test_bad_declaration_rules_are_refused_at_load(block: dict, message: str) -> None:
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    data["declaration"] = block
    with pytest.raises(ConfigError, match=message):
        build_policy(data, taxonomy=TAXONOMY)


@pytest.mark.parametrize(
    ("declaration", "words", "chapter"),
    [
        (Declaration(contents="T-Shirts, 2x; LETTERS!"), {"t-shirts", "2x", "letters"}, None),
        (Declaration(hs_code="4901.99"), set(), 49),
        (Declaration(hs_code="61"), set(), 61),
        (Declaration(), set(), None),
    ],
)
def test_declaration_words_and_chapter(declaration: Declaration, words: set[str], chapter: int | None) -> None:
    assert declaration.words == words and declaration.hs_chapter == chapter
