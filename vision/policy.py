"""Clearance decisions: `Detections` in, `clear` / `inspect` / `hold` out, with the reasons.

A policy file (`configs/policy/*.yaml`) gives score thresholds per taxonomy category, overridable per
class, and per scan kind (`scan_kinds`: a gray scanner's scores are not a colour scanner's, so a class may
need another hold there; a kind's rules override the general ones for its scans only). The policy is
checked against the taxonomy when it loads: every threat class must be covered (a class appended to the
taxonomy without a rule would otherwise never alarm) and benign classes may not alarm. Its `image_quality`
block sends scans that cannot be screened (too small, blank, saturated, or with an opaque area X-rays did
not get through) to an officer: `inspect`, never `clear` (`vision/quality.py` measures; defaults apply when
the block is absent; a threshold set to null turns that check off). Its
`declaration` block compares what the parcel declares (`Scan.declaration`) with what the scan shows
(`vision/declaration.py`: mismatch, origin risk, declared value).

It lives in `vision` (no web framework) because every screening path decides with it: the service, batch
re-screening and `predict` (`xscreen.vision.screening`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xscreen.errors import ConfigError, validation_summary
from xscreen.vision.declaration import DeclarationRules
from xscreen.vision.detections import Detections
from xscreen.vision.scan import Scan, ScanKind
from xscreen.vision.taxonomy import CATEGORIES, THREAT_CATEGORIES, Taxonomy, load_taxonomy

Verdict = Literal["clear", "inspect", "hold"]
VERDICTS: tuple[Verdict, ...] = ("clear", "inspect", "hold")  # in rising severity
_SEVERITY = {v: i for i, v in enumerate(VERDICTS)}


class Rule(BaseModel):
    """Score thresholds of one category or class; a missing threshold means that verdict is never given."""

    model_config = ConfigDict(extra="forbid")
    hold: float | None = Field(default=None, ge=0, le=1)
    inspect: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Rule":
        if self.hold is None and self.inspect is None:
            raise ValueError("a rule needs a hold or an inspect threshold")
        if self.hold is not None and self.inspect is not None and self.inspect > self.hold:
            raise ValueError(f"inspect threshold {self.inspect} is above hold threshold {self.hold}")
        return self

    def verdict(self, score: float) -> tuple[Verdict, float | None]:
        """The verdict for one score, and the threshold it passed (None when it cleared)."""
        if self.hold is not None and score >= self.hold:
            return "hold", self.hold
        if self.inspect is not None and score >= self.inspect:
            return "inspect", self.inspect
        return "clear", None


ImageRule = Literal["too_small", "blank", "saturated", "opaque_area"]


class ImageRules(BaseModel):
    """Scans the model cannot be trusted on: each check that trips adds an `inspect` reason."""

    model_config = ConfigDict(extra="forbid")
    min_side: int | None = Field(default=32, ge=1, description="pixels; a shorter side is too_small")
    blank_range: float | None = Field(default=8, ge=0, le=255, description="gray levels between 1st and 99th percentile; fewer is blank")
    bright_level: int = Field(default=240, ge=0, le=255, description="display gray at or above this counts as full transmission")
    saturated_fraction: float | None = Field(default=0.95, gt=0, le=1, description="share of bright pixels above which a scan is saturated")
    opaque_level: int = Field(default=10, ge=0, le=255, description="display gray at or below this counts as impenetrable")
    opaque_fraction: float | None = Field(default=0.05, gt=0, le=1, description="share of opaque pixels above which an officer looks")

    def reasons(self, scan: Scan) -> list["Reason"]:
        from xscreen.vision.quality import measure_image

        def reason(rule: ImageRule, value: float, limit: float) -> Reason:
            return Reason(detection=None, class_name=None, category=None, score=round(value, 5), threshold=limit, verdict="inspect", rule=rule)

        if self.min_side is not None and min(scan.height, scan.width) < self.min_side:
            return [reason("too_small", min(scan.height, scan.width), self.min_side)]  # too few pixels to measure the rest
        m = measure_image(scan, bright_level=self.bright_level, opaque_level=self.opaque_level)
        found = []
        if self.blank_range is not None and m.gray_range < self.blank_range:
            found.append(reason("blank", m.gray_range, self.blank_range))
        if self.saturated_fraction is not None and m.bright_fraction > self.saturated_fraction:
            found.append(reason("saturated", m.bright_fraction, self.saturated_fraction))
        if self.opaque_fraction is not None and m.opaque_fraction > self.opaque_fraction:
            found.append(reason("opaque_area", m.opaque_fraction, self.opaque_fraction))
        return found


class CaseRules(BaseModel):
    """Which holds open an investigation case (the service's cases; `serving/store/cases.py`)."""

    model_config = ConfigDict(extra="forbid")
    categories: list[str] = Field(default_factory=list, description="a hold in one of these taxonomy categories opens a case")


class KindRules(BaseModel):
    """Overrides for the scans of one kind: per category and per class, as at the top level."""

    model_config = ConfigDict(extra="forbid")
    categories: dict[str, Rule] = Field(default_factory=dict)
    classes: dict[str, Rule] = Field(default_factory=dict)


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    version: int = Field(ge=1)
    categories: dict[str, Rule] = Field(default_factory=dict)
    classes: dict[str, Rule] = Field(default_factory=dict)
    scan_kinds: dict[ScanKind, KindRules] = Field(default_factory=dict)
    image_quality: ImageRules = Field(default_factory=ImageRules)
    declaration: DeclarationRules = Field(default_factory=DeclarationRules)
    cases: CaseRules = Field(default_factory=CaseRules)


@dataclass(frozen=True)
class Reason:
    """Why a scan is not clear: one detection and the threshold it passed (rule `detection`), an image
    rule (`ImageRules`) with the measured value as `score` and its limit as `threshold`, and no detection,
    or a declaration rule (`DeclarationRules`, with or without a detection) saying in `detail` what it compared."""

    detection: int | None  # index into the scan's detections
    class_name: str | None
    category: str | None
    score: float
    threshold: float
    verdict: Verdict
    rule: str = "detection"
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: list[Reason]
    policy_version: str

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": [r.to_dict() for r in self.reasons], "policy_version": self.policy_version}


@dataclass(frozen=True)
class Policy:
    name: str
    number: int
    sha256: str  # of the file's bytes: tells two edits of one version apart in an audit
    rules: dict[int, Rule]  # class id -> effective rule; classes absent here never alarm
    taxonomy: Taxonomy
    kind_rules: dict[ScanKind, dict[int, Rule]] = field(default_factory=dict)  # scan kind -> its rules, where they differ
    image_rules: ImageRules = field(default_factory=ImageRules)
    declaration_rules: DeclarationRules = field(default_factory=DeclarationRules)
    case_categories: frozenset[str] = frozenset()  # a hold in one of these opens a case

    def case_categories_of(self, decision: Decision) -> list[str]:
        """The categories of `case_categories` that `decision` holds for, sorted (none: no case)."""
        if decision.verdict != "hold":
            return []
        return sorted({r.category for r in decision.reasons if r.verdict == "hold" and r.category in self.case_categories})

    @property
    def version(self) -> str:
        return f"{self.name}:{self.number}"

    def decide(self, detections: Detections, scan: Scan | None = None) -> Decision:
        """The most severe verdict over all detections and, given the scan, the image rules and the declaration
        rules (when the scan carries a declaration); reasons list every detection that alarmed, worst first,
        then the image and declaration rules that tripped, worst first."""
        reasons: list[Reason] = []
        rules = self.kind_rules.get(scan.kind, self.rules) if scan is not None else self.rules
        for index, (_, score, class_id) in enumerate(detections):
            rule = rules.get(class_id)
            if rule is None:
                continue
            verdict, threshold = rule.verdict(score)
            if verdict == "clear" or threshold is None:
                continue
            cls = self.taxonomy.by_id(class_id)
            reasons.append(Reason(index, cls.name, cls.category, round(score, 5), threshold, verdict))
        reasons.sort(key=lambda r: (-_SEVERITY[r.verdict], -r.score))
        if scan is not None:
            reasons += self.image_rules.reasons(scan)
            if scan.declaration is not None:
                alarmed = {r.detection: r.verdict for r in reasons if r.detection is not None}
                reasons += self.declaration_rules.reasons(detections, scan, scan.declaration, taxonomy=self.taxonomy, alarmed=alarmed)
            reasons.sort(key=lambda r: -_SEVERITY[r.verdict])  # stable: detections stay first within a verdict
        worst: Verdict = reasons[0].verdict if reasons else "clear"
        return Decision(verdict=worst, reasons=reasons, policy_version=self.version)


def build_policy(data: dict[str, Any], *, taxonomy: Taxonomy, sha256: str = "") -> Policy:
    """Validate a policy mapping against the taxonomy and resolve one rule per class."""
    try:
        spec = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid decision policy: {validation_summary(exc.errors())}") from exc
    for category in [*spec.categories, *(c for kind in spec.scan_kinds.values() for c in kind.categories)]:
        if category not in CATEGORIES:
            raise ConfigError(f"policy names unknown category {category!r}; categories: {', '.join(CATEGORIES)}")
    try:
        spec.declaration.check_categories()
    except ValueError as exc:
        raise ConfigError(f"invalid decision policy: {exc}") from exc
    for category in spec.cases.categories:
        if category not in THREAT_CATEGORIES:
            raise ConfigError(f"policy opens cases for {category!r}, which is not a threat category; threat categories: {', '.join(THREAT_CATEGORIES)}")
    for name in [*spec.classes, *(n for kind in spec.scan_kinds.values() for n in kind.classes)]:
        if name not in taxonomy.names:
            raise ConfigError(f"policy names unknown class {name!r}; taxonomy classes: {', '.join(taxonomy.names)}")
    rules: dict[int, Rule] = {}
    for cls in taxonomy.classes:
        rule = spec.classes.get(cls.name) or spec.categories.get(cls.category)
        if not cls.is_threat:
            if rule is not None or any(cls.name in k.classes or cls.category in k.categories for k in spec.scan_kinds.values()):
                raise ConfigError(f"class {cls.name!r} is benign in the taxonomy (category {cls.category}) and may not alarm")
            continue
        if rule is None:
            raise ConfigError(f"policy {spec.name}:{spec.version} has no rule for threat class {cls.name!r} (category {cls.category})")
        rules[cls.id] = rule
    # A kind's class rule wins over its category rule, which wins over the general rules.
    kind_rules = {kind: {cid: over.classes.get(taxonomy.by_id(cid).name) or over.categories.get(taxonomy.by_id(cid).category) or rule
                         for cid, rule in rules.items()}
                  for kind, over in spec.scan_kinds.items()}
    return Policy(name=spec.name, number=spec.version, sha256=sha256, rules=rules, taxonomy=taxonomy, kind_rules=kind_rules,
                  image_rules=spec.image_quality, declaration_rules=spec.declaration, case_categories=frozenset(spec.cases.categories))


def load_policy(path: Path | str, *, taxonomy: Taxonomy | None = None) -> Policy:
    """Read and validate a policy file (ConfigError on anything wrong, naming the problem)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read decision policy {path}: {exc}") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"decision policy {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"decision policy {path} must be a mapping")
    return build_policy(data, taxonomy=taxonomy or load_taxonomy(), sha256=hashlib.sha256(raw).hexdigest())
