"""Clearance that reads the declaration: what a parcel says it holds against what the scan shows.

Stations (or the mail system) send the declaration with the scan: free-text contents, optionally an HS code,
the declared value and the origin country. Three policy rules read it, each adding a `Reason` with its rule
name, so an officer sees why:
- `declaration_mismatch`: the declaration matches a profile (by keyword or HS chapter) that names what such a
  parcel may show, and the scan shows something else: a threat category the profile does not expect, at a
  score below the category's own thresholds (letters with a weak drug-brick detection), or more dense
  organic or inorganic matter than the profile allows (letters with a thick organic mass). Alone it gives
  the policy's `verdict` (`inspect` unless the policy says `hold`).
- `origin_risk`: the origin is on the policy's country list, and a detection of a named category passed the
  lower inspect (or, when given, hold) threshold set for such origins.
- `declared_value` (optional): the declared value is at most `max_value` while dense inorganic matter (the
  look of electronics: circuit boards, batteries, drives) covers at least `min_dense_inorganic` of the scan.
A scan without a declaration, or whose declaration matches no profile, is decided as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xscreen.vision.detections import Detections
from xscreen.vision.taxonomy import CATEGORIES, Taxonomy

if TYPE_CHECKING:
    from xscreen.vision.composition import Composition
    from xscreen.vision.policy import Reason, Verdict
    from xscreen.vision.scan import Scan

Material = Literal["organic", "inorganic"]
Share = Annotated[float, Field(ge=0, le=1)]  # a score threshold or a share of the scan
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")  # letters and digits, hyphenated words kept whole (t-shirt)


@dataclass(frozen=True)
class Declaration:
    """What the parcel says it is (every field optional). `origin` is compared case-insensitively."""

    contents: str | None = None
    hs_code: str | None = None  # digits, dots allowed ("4901.99"); its first two digits are the HS chapter
    value: float | None = None  # in the currency the mail system declares in, the one the policy's max_value uses
    origin: str | None = None

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(_WORD.findall(self.contents.casefold())) if self.contents else frozenset()

    @property
    def hs_chapter(self) -> int | None:
        digits = (self.hs_code or "").replace(".", "")
        return int(digits[:2]) if len(digits) >= 2 and digits[:2].isdigit() else None


class DeclarationProfile(BaseModel):
    """One kind of declared contents and what a scan of it may show."""

    model_config = ConfigDict(extra="forbid")
    keywords: list[str] = Field(default_factory=list, description="whole words of declared_contents, any case")
    hs_chapters: list[int] = Field(default_factory=list, description="HS chapters (first two digits of the HS code)")
    expected_categories: list[str] = Field(default_factory=list, description="threat categories such a parcel may show")
    max_dense: dict[Material, Share] = Field(default_factory=dict, description="largest share of the scan dense matter of each material may cover")

    @field_validator("keywords")
    @classmethod
    def _words(cls, keywords: list[str]) -> list[str]:
        for word in keywords:
            if _WORD.fullmatch(word) is None:
                raise ValueError(f"keyword {word!r} must be one word (letters, digits, inner hyphens)")
        return [w.casefold() for w in keywords]

    @field_validator("hs_chapters")
    @classmethod
    def _chapters(cls, chapters: list[int]) -> list[int]:
        bad = [c for c in chapters if not 1 <= c <= 99]
        if bad:
            raise ValueError(f"HS chapters run from 1 to 99, got {bad}")
        return chapters

    def matches(self, declaration: Declaration) -> bool:
        return bool(declaration.words.intersection(self.keywords)) or declaration.hs_chapter in self.hs_chapters


class MismatchRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["inspect", "hold"] = "inspect"
    min_score: float = Field(default=0.10, ge=0, le=1, description="a detection at least this sure counts as shown")
    dense_attenuation: float = Field(default=1.0, gt=0, description="a_H = -ln T at or above which a pixel is dense")
    profiles: dict[str, DeclarationProfile] = Field(default_factory=dict)


class OriginRisk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    countries: list[str] = Field(default_factory=list, description="origins (ISO 3166 codes or names as stations send them), any case")
    inspect: dict[str, Share] = Field(default_factory=dict, description="category -> the lower inspect threshold for those origins")
    hold: dict[str, Share] = Field(default_factory=dict, description="category -> a lower hold threshold for those origins (optional)")

    @field_validator("countries")
    @classmethod
    def _fold(cls, countries: list[str]) -> list[str]:
        return [c.strip().casefold() for c in countries]


class ValueRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_value: float = Field(ge=0, description="a declared value at or below this is low")
    min_dense_inorganic: float = Field(gt=0, le=1, description="share of the scan dense inorganic matter covers that looks like electronics")
    dense_attenuation: float = Field(default=1.0, gt=0)


class DeclarationRules(BaseModel):
    """The policy's `declaration` block: mismatch, origin risk and (optional) declared value."""

    model_config = ConfigDict(extra="forbid")
    mismatch: MismatchRules = Field(default_factory=MismatchRules)
    origin_risk: OriginRisk = Field(default_factory=OriginRisk)
    declared_value: ValueRule | None = None

    def check_categories(self) -> None:
        named = [c for p in self.mismatch.profiles.values() for c in p.expected_categories] + [*self.origin_risk.inspect, *self.origin_risk.hold]
        unknown = sorted(set(named) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"declaration rules name unknown categories {unknown}; categories: {', '.join(CATEGORIES)}")

    def reasons(self, detections: Detections, scan: Scan | None, declaration: Declaration, *, taxonomy: Taxonomy,
                alarmed: dict[int, Verdict]) -> list[Reason]:
        """Reasons the declaration adds. `alarmed`: the verdict the thresholds already gave each detection (the
        origin rule adds a reason only where it is more severe; a mismatch says the declaration does not explain
        a detection either way)."""
        from xscreen.vision.composition import measure_composition

        found: list[Reason] = []
        measured: dict[float, Composition | None] = {}

        def composition(level: float) -> Composition | None:
            if scan is None:
                return None
            if level not in measured:
                measured[level] = measure_composition(scan, dense_attenuation=level)
            return measured[level]

        found += self._mismatch(detections, declaration, composition, taxonomy)
        found += self._origin(detections, declaration, taxonomy, alarmed)
        rule = self.declared_value
        if rule is not None and declaration.value is not None and declaration.value <= rule.max_value:
            measure = composition(rule.dense_attenuation)
            if measure is not None and measure.dense_inorganic >= rule.min_dense_inorganic:
                found.append(_reason("declared_value", "inspect", round(measure.dense_inorganic, 5), rule.min_dense_inorganic,
                                     detail=f"declared value {declaration.value:g} (at most {rule.max_value:g}) with dense inorganic matter "
                                     f"over {measure.dense_inorganic:.1%} of the scan"))
        return found

    def _mismatch(self, detections: Detections, declaration: Declaration, composition: Callable[[float], Composition | None], taxonomy: Taxonomy) -> list[Reason]:
        rules = self.mismatch
        matched = {name: p for name, p in rules.profiles.items() if p.matches(declaration)}
        if not matched:
            return []
        names = ", ".join(matched)
        expected = {c for p in matched.values() for c in p.expected_categories}
        found: list[Reason] = []
        for index, (_, score, class_id) in enumerate(detections):
            cls = taxonomy.by_id(class_id)
            if cls.is_threat and cls.category not in expected and score >= rules.min_score:
                found.append(_reason("declaration_mismatch", rules.verdict, round(score, 5), rules.min_score, index=index,
                                     class_name=cls.name, category=cls.category,
                                     detail=f"declared as {names}, which does not explain {cls.category}"))
        materials: tuple[Material, ...] = ("organic", "inorganic")
        for material in materials:
            if any(material not in p.max_dense for p in matched.values()):  # one matched profile allows any amount
                continue
            limit = max(p.max_dense[material] for p in matched.values())  # the most lenient of what it may be
            measure = composition(rules.dense_attenuation)
            share = None if measure is None else getattr(measure, f"dense_{material}")
            if share is not None and share > limit:
                found.append(_reason("declaration_mismatch", rules.verdict, round(share, 5), limit,
                                     detail=f"declared as {names}, with dense {material} matter over {share:.1%} of the scan (at most {limit:.1%})"))
        return found

    def _origin(self, detections: Detections, declaration: Declaration, taxonomy: Taxonomy, alarmed: dict[int, Verdict]) -> list[Reason]:
        risk = self.origin_risk
        if declaration.origin is None or declaration.origin.strip().casefold() not in risk.countries:
            return []
        found: list[Reason] = []
        for index, (_, score, class_id) in enumerate(detections):
            cls = taxonomy.by_id(class_id)
            already = alarmed.get(index, "clear")
            hold, inspect = risk.hold.get(cls.category), risk.inspect.get(cls.category)
            verdict: Verdict | None = None
            if hold is not None and score >= hold and already != "hold":
                verdict, threshold = "hold", hold
            elif inspect is not None and score >= inspect and already == "clear":
                verdict, threshold = "inspect", inspect
            if verdict is not None:
                found.append(_reason("origin_risk", verdict, round(score, 5), threshold, index=index, class_name=cls.name,
                                     category=cls.category, detail=f"origin {declaration.origin} is on the policy's risk list"))
        return found


def _reason(rule: str, verdict: Verdict, score: float, threshold: float, *, index: int | None = None, class_name: str | None = None,
            category: str | None = None, detail: str) -> Reason:
    from xscreen.vision.policy import Reason

    return Reason(index, class_name, category, score, threshold, verdict, rule=rule, detail=detail)
