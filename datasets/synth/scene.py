"""Scene sampling and rendering: container, clutter, threats -> areal densities -> transmission.

`sample_scene(rng, config, taxonomy)` draws a whole scan description (pure data, JSON-able);
`render_scene(scene, rng)` integrates every shape's areal density into the two basis maps (A water-,
B iron-equivalent g/cm^2), turns them into per-channel transmission through the scanner profile's
spectra, adds the detector, and measures each labelled object's footprint and visibility.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from xscreen.datasets.synth.clutter import CLUTTER, CLUTTER_WEIGHTS, CONTAINERS
from xscreen.datasets.synth.concealment import conceal
from xscreen.datasets.synth.config import SynthConfig
from xscreen.datasets.synth.labels import Footprint, measure_footprint
from xscreen.datasets.synth.objects import SceneObject, random_pose
from xscreen.datasets.synth.shapes import Shape, footprint_bounds, path_length, rotation_matrix
from xscreen.datasets.synth.threats import THREAT_BUILDERS, Builder
from xscreen.errors import ConfigError
from xscreen.vision.taxonomy import Taxonomy
from xscreen.vision.xray.detector import simulate_detector
from xscreen.vision.xray.materials import get_material
from xscreen.vision.xray.physics import TransmissionModel, transmission_model
from xscreen.vision.xray.profiles import ScannerProfile, load_profile

FLAT_CONTAINERS = ("letter",)
DRUG_CLASSES_FOR_LETTERS = ("drug_bulk", "drug_tablets")


@dataclass
class Scene:
    container: SceneObject
    objects: list[SceneObject]
    canvas: tuple[float, float, float, float]  # x0, y0, x1, y1 world mm
    pitch_mm: float
    profile: str
    width: int
    height: int

    def to_meta(self) -> dict:
        return {
            "container": self.container.to_meta(),
            "objects": [o.to_meta() for o in self.objects],
            "canvas_mm": [round(v, 2) for v in self.canvas],
            "pitch_mm": round(self.pitch_mm, 5),
            "profile": self.profile,
            "size": [self.width, self.height],
        }


@dataclass
class RenderedScene:
    raw: dict[str, np.ndarray]  # channel -> uint16 (H, W)
    footprints: list[Footprint]  # one per labelled object, in scene.objects order
    labelled_objects: list[SceneObject] = field(default_factory=list)


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _place(obj: SceneObject, container: SceneObject, rng: np.random.Generator, *, flat: bool = False) -> None:
    """Pose an object inside the container: its rotated half extents must fit the interior where they can."""
    local_rot = random_pose(rng, max_tilt_deg=4.0 if flat else 25.0, upright_p=0.0 if flat else 0.08)
    half = np.abs(local_rot) @ np.asarray(obj.extent)  # axis-aligned half extents in the container frame
    span = np.maximum(np.asarray(container.extent) - half, 0.0)
    local = rng.uniform(-span, span)
    obj.rotation = container.rotation @ local_rot
    obj.center = container.center + container.rotation @ local


def sample_scene(rng: np.random.Generator, config: SynthConfig, taxonomy: Taxonomy, *, force_threats: bool | None = None) -> Scene:
    container_name = _pick(rng, config.containers)
    if container_name not in CONTAINERS:
        raise ConfigError(f"unknown container {container_name!r}; known: {', '.join(CONTAINERS)}")
    container = CONTAINERS[container_name](rng)
    yaw = rng.normal(0, 0.15) if rng.random() < 0.8 else rng.uniform(0, np.pi)
    container.rotation = rotation_matrix(yaw)
    container.center = np.zeros(3)
    flat = container_name in FLAT_CONTAINERS
    objects: list[SceneObject] = []

    ix, iy, _ = container.extent
    area_cm2 = 4 * ix * iy / 100.0
    n_clutter = 0 if flat and rng.random() < 0.6 else int(min(rng.poisson(config.clutter_per_100cm2 * area_cm2 / 100.0), config.max_clutter))
    weights = {k: v for k, v in CLUTTER_WEIGHTS.items() if not flat or k in ("coins", "jewellery", "keys", "pcb", "packing")}
    for _ in range(n_clutter):
        obj = CLUTTER[_pick(rng, weights)](rng)
        _place(obj, container, rng, flat=flat)
        objects.append(obj)

    has_threats = (rng.random() >= config.no_threat_fraction) if force_threats is None else force_threats
    threat_classes = {k: v for k, v in config.threat_weights.items() if not flat or k in DRUG_CLASSES_FOR_LETTERS}
    if has_threats and threat_classes:
        n = 1 + min(int(rng.geometric(0.6)) - 1, config.max_threats - 1)
        for _ in range(n):
            objects += _threat_objects(_pick(rng, threat_classes), container, rng, config, taxonomy, flat)
    if not flat and config.lookalike_weights and rng.random() < config.lookalike_probability:
        objects += _threat_objects(_pick(rng, config.lookalike_weights), container, rng, config, taxonomy, flat)

    # Canvas: the container's footprint plus a margin, sometimes cut by an edge (long items, bad feed).
    b = np.array([footprint_bounds(s) for s in container.world_shapes() if s.sign > 0])
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    w, h = x1 - x0, y1 - y0
    m = rng.uniform(*config.canvas_margin, size=4)
    x0, x1, y0, y1 = x0 - m[0] * w, x1 + m[1] * w, y0 - m[2] * h, y1 + m[3] * h
    if rng.random() < config.cutoff_probability:
        side = int(rng.integers(0, 4))
        cut = rng.uniform(0.05, 0.25)
        if side == 0:
            x0 += (m[0] + cut) * w
        elif side == 1:
            x1 -= (m[1] + cut) * w
        elif side == 2:
            y0 += (m[2] + cut) * h
        else:
            y1 -= (m[3] + cut) * h
    long_mm = max(x1 - x0, y1 - y0)
    pitch = long_mm / config.image_size
    width, height = max(int(round((x1 - x0) / pitch)), 16), max(int(round((y1 - y0) / pitch)), 16)
    profile = _pick(rng, config.profiles)
    return Scene(container, objects, (float(x0), float(y0), float(x1), float(y1)), float(pitch), profile, width, height)


def pick_builder(rng: np.random.Generator, cls: str, config: SynthConfig) -> Builder:
    """One of the class's builders, by `config.builder_weights` (uniform for a class it does not list: one draw
    either way, so adding weights for one class leaves the other classes' scenes as they were)."""
    builders = THREAT_BUILDERS[cls]
    weights = config.builder_weights.get(cls)
    if not weights:
        return builders[str(rng.choice(list(builders)))]
    unknown = sorted(set(weights) - set(builders))
    if unknown:
        raise ConfigError(f"builder_weights.{cls}: no builder {', '.join(unknown)}; {cls} has {', '.join(builders)}")
    return builders[_pick(rng, weights)]


def _threat_objects(cls: str, container: SceneObject, rng: np.random.Generator, config: SynthConfig, taxonomy: Taxonomy, flat: bool) -> list[SceneObject]:
    taxonomy.by_name(cls)  # refuse classes the taxonomy does not have
    if cls not in THREAT_BUILDERS:
        raise ConfigError(f"no synthetic builder for class {cls!r}; builders exist for {', '.join(THREAT_BUILDERS)}")
    if flat:  # a letter holds a flat sheet or a blister
        from xscreen.datasets.synth import threats

        for _ in range(20):
            objs = threats.drug_bulk(rng) if cls == "drug_bulk" else threats.drug_tablets(rng)
            if all(o.info.get("form") in ("sheet", "blister") for o in objs):
                break
    else:
        objs = pick_builder(rng, cls, config)(rng)
    out: list[SceneObject] = []
    group = objs[0]
    _place(group, container, rng, flat=flat)
    for o in objs:
        if o.info.get("spread"):
            _place(o, container, rng, flat=flat)  # parts of a kit travel apart, among the clutter
        else:
            o.center, o.rotation = group.center, group.rotation
        out.append(o)
    is_drug = taxonomy.by_name(cls).category == "drugs"
    if is_drug and not flat and rng.random() < config.conceal_probability:
        host = conceal(objs[0] if len(objs) == 1 else _union(objs), rng)
        host.center, host.rotation = group.center, group.rotation
        out.insert(0, host)
    return out


def _union(objs: list[SceneObject]) -> SceneObject:
    shapes = [s for o in objs for s in o.shapes]
    from xscreen.datasets.synth.threats import _extent

    b = np.array([footprint_bounds(s) for s in shapes if s.sign > 0])
    cx, cy = (b[:, 0].min() + b[:, 2].max()) / 2, (b[:, 1].min() + b[:, 3].max()) / 2
    shifted = [s.transformed(np.array([-cx, -cy, 0.0]), np.eye(3)) for s in shapes]
    for o in objs:
        o.shapes = [s.transformed(np.array([-cx, -cy, 0.0]), np.eye(3)) for s in o.shapes]
    return SceneObject("group", shifted, extent=_extent(shifted))


class _Accumulator:
    """Adds shapes' areal densities into the basis maps A, B on the scan's pixel grid."""

    def __init__(self, scene: Scene, model: TransmissionModel, rng: np.random.Generator, scale: float = 1.0) -> None:
        self.scene, self.model = scene, model
        self.width = max(int(round(scene.width * scale)), 8)
        self.height = max(int(round(scene.height * scale)), 8)
        self.pitch = (scene.canvas[2] - scene.canvas[0]) / self.width
        self.x0 = scene.canvas[0] + self.pitch / 2
        self.y0 = scene.canvas[1] + self.pitch / 2
        self.a = np.zeros((self.height, self.width), np.float32)
        self.b = np.zeros((self.height, self.width), np.float32)
        self._rng = rng
        self._texture: np.ndarray | None = None

    def texture(self) -> np.ndarray:
        """One random field per scan, zero mean: long fold lines in two directions plus fine grain.

        Zero crossings of a smooth field stretched along one axis are long, roughly parallel lines;
        1 - |tanh(k f)| peaks on them, which reads as the folds and seams of cloth and crumpled paper.
        """
        if self._texture is None:
            h, w = self.height, self.width
            rng = self._rng

            def stretched(sy: int, sx: int) -> np.ndarray:
                small = rng.standard_normal((max(h // sy, 2), max(w // sx, 2))).astype(np.float32)
                return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)

            lines = (1.0 - np.abs(np.tanh(2.5 * stretched(48, 10)))) + (1.0 - np.abs(np.tanh(2.5 * stretched(10, 48))))
            grain = stretched(4, 4)
            field = 0.9 * lines + 0.25 * grain
            self._texture = (field - field.mean()).astype(np.float32)
        return self._texture

    def window(self, shape: Shape) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = footprint_bounds(shape)
        p = self.pitch
        j0 = int(np.floor((x0 - self.scene.canvas[0]) / p)) - 1
        i0 = int(np.floor((y0 - self.scene.canvas[1]) / p)) - 1
        j1 = int(np.ceil((x1 - self.scene.canvas[0]) / p)) + 2
        i1 = int(np.ceil((y1 - self.scene.canvas[1]) / p)) + 2
        return i0, j0, i1, j1

    def areal(self, shape: Shape, win: tuple[int, int, int, int]) -> tuple[np.ndarray, float, float]:
        """Areal density [g/cm^2] of a shape on window `win` (may extend past the scan) and its basis coefficients."""
        i0, j0, i1, j1 = win
        p = self.pitch
        length = path_length(shape, self.x0 + j0 * p, self.y0 + i0 * p, p, j1 - j0, i1 - i0)
        if shape.texture > 0:
            tex = self.texture()
            h, w = tex.shape
            ci0, cj0 = max(i0, 0), max(j0, 0)
            ci1, cj1 = min(i1, h), min(j1, w)
            if ci1 > ci0 and cj1 > cj0:
                sub = length[ci0 - i0 : ci1 - i0, cj0 - j0 : cj1 - j0]
                sub *= np.maximum(1.0 + shape.texture * tex[ci0:ci1, cj0:cj1], 0.0)
        rho = get_material(shape.material).density * shape.density_scale * shape.sign
        ca, cb = self.model.basis_coefficients(shape.material)
        return length * np.float32(rho / 10.0), ca, cb

    def add(self, areal: np.ndarray, ca: float, cb: float, win: tuple[int, int, int, int]) -> None:
        i0, j0, i1, j1 = win
        h, w = self.a.shape
        ci0, cj0, ci1, cj1 = max(i0, 0), max(j0, 0), min(i1, h), min(j1, w)
        if ci1 <= ci0 or cj1 <= cj0:
            return
        sub = areal[ci0 - i0 : ci1 - i0, cj0 - j0 : cj1 - j0]
        self.a[ci0:ci1, cj0:cj1] += sub * np.float32(ca)
        self.b[ci0:ci1, cj0:cj1] += sub * np.float32(cb)


def render_scene(scene: Scene, rng: np.random.Generator, *, profile: ScannerProfile | None = None, config: SynthConfig | None = None,
                 detector: bool = True) -> RenderedScene:
    """Integrate the scene along the beam, apply the profile's detector, measure labelled footprints."""
    profile = profile or load_profile(scene.profile)
    config = config or SynthConfig()
    model = transmission_model(profile.beam_spec)
    scale = config.render_scale
    acc = _Accumulator(scene, model, rng, scale)
    own: list[tuple[SceneObject, tuple[int, int, int, int], np.ndarray, np.ndarray]] = []
    for obj in [scene.container, *scene.objects]:
        shapes = obj.world_shapes()
        if obj.label is None:
            for s in shapes:
                win = acc.window(s)
                acc.add(*acc.areal(s, win), win)
            continue
        wins = [acc.window(s) for s in shapes]
        big = (min(w[0] for w in wins), min(w[1] for w in wins), max(w[2] for w in wins), max(w[3] for w in wins))
        oa = np.zeros((big[2] - big[0], big[3] - big[1]), np.float32)
        ob = np.zeros_like(oa)
        for s, win in zip(shapes, wins):
            areal, ca, cb = acc.areal(s, win)
            acc.add(areal, ca, cb, win)
            sl = (slice(win[0] - big[0], win[2] - big[0]), slice(win[1] - big[1], win[3] - big[1]))
            oa[sl] += areal * np.float32(ca)
            ob[sl] += areal * np.float32(cb)
        own.append((obj, big, oa, ob))
    footprints = [measure_footprint(obj.label or "", big, oa, ob, acc.a, acc.b, model, config.labels) for obj, big, oa, ob in own]
    a: np.ndarray = acc.a
    b: np.ndarray = acc.b
    if (acc.width, acc.height) != (scene.width, scene.height):
        # Rendered at a lower internal resolution for speed: upsample the areal densities (smooth, so
        # linear interpolation is faithful), then transmission, noise and display at full resolution.
        a = cv2.resize(a, (scene.width, scene.height), interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, (scene.width, scene.height), interpolation=cv2.INTER_LINEAR)
        sx, sy = scene.width / acc.width, scene.height / acc.height
        footprints = [fp.scaled(sx, sy, scene.width, scene.height) for fp in footprints]
    ideal = model.transmission(a, b)
    raw = simulate_detector(ideal, profile, scene.pitch_mm, rng) if detector else {k: np.clip(v * 65535 + 0.5, 0, 65535).astype(np.uint16) for k, v in ideal.items()}
    return RenderedScene(raw=raw, footprints=footprints, labelled_objects=[o for o, *_ in own])
