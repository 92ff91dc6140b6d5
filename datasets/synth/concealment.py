"""Concealment: a host object built around a threat, sharing its pose.

Hosts are carved where the threat sits (a negative shape of the host's material), so a hollowed book
holds a brick instead of paper, as a smuggler would make it, rather than paper and brick overlapping.
"""

from __future__ import annotations

import numpy as np

from xscreen.datasets.synth.objects import SceneObject, box, cylinder, ellipsoid, hollow_box, hollow_ellipsoid, tube
from xscreen.datasets.synth.shapes import Shape

HOSTS = ("book", "can", "toy", "electronics", "shoe_sole", "double_bottom", "clothing")


def conceal(threat: SceneObject, rng: np.random.Generator, host: str | None = None) -> SceneObject:
    """A host object (role "concealment") for `threat`; place it with the threat's pose."""
    hx, hy, hz = (max(e, 3.0) for e in threat.extent)
    host = host or str(rng.choice(HOSTS))
    m = rng.uniform(4, 15)  # host margin around the cavity, mm
    shapes: list[Shape]
    if host == "book":
        shapes = [box("paper", (hx + m, hy + m, hz + 3), texture=0.03), box("paper", (hx, hy, hz), sign=-1.0)]
    elif host == "can":
        r, h = max(hx, hy) + 2, hz + m
        r = min(r, 60)
        shapes = tube("steel", r, max(h, hx), 0.2, closed=True)
        shapes.append(cylinder("food", r - 0.5, max(h, hx) - 1, density_scale=rng.uniform(0.0, 0.6)))
    elif host == "toy":
        shapes = hollow_ellipsoid(str(rng.choice(["polyethylene", "abs", "pvc"])), (hx * 1.5 + m, hy * 1.5 + m, hz * 1.5 + m), 2.0)
    elif host == "electronics":
        shapes = hollow_box("abs", (hx + m, hy + m, hz + 4), 2.0)
        shapes.append(box("pcb", ((hx + m) * 0.5, (hy + m) * 0.4, 0.8), at=((hx + m) * 0.4, 0, hz + 2)))
        shapes.append(cylinder("copper", 12, 6, at=(-(hx + m) * 0.5, (hy + m) * 0.4, 0), density_scale=0.6))
        shapes.append(box("steel", (8, 8, 4), at=((hx + m) * 0.6, -(hy + m) * 0.6, 0)))
    elif host == "shoe_sole":
        shapes = [box("rubber", (hx + m, hy + m, hz + 4), texture=0.1), box("rubber", (hx, hy, hz), sign=-1.0)]
        shapes += hollow_ellipsoid("leather", (hx + m, hy + m, 40), 2.0, at=(0, 0, hz + 40))
    elif host == "double_bottom":
        shapes = [box("cardboard", (hx + m * 3, hy + m * 3, 2.5), at=(0, 0, hz + 3), density_scale=0.5)]
        shapes.append(box("cardboard", (hx + m * 3, hy + m * 3, 2.5), at=(0, 0, -hz - 3), density_scale=0.5))
    else:  # clothing: sewn into a lining
        shapes = [ellipsoid("textile", (hx * 2 + 40, hy * 2 + 30, hz + 15), texture=0.6)]
    return SceneObject(name=f"concealment_{host}", shapes=shapes, role="concealment", extent=(hx + m, hy + m, hz + m), info={"host": host, "hides": threat.name})
