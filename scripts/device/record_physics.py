"""Record every xraydb.material_mu result and spekpy spectrum the training augmentation needs.

    python scripts/device/record_physics.py .pack/physics.pkl [IMAGES]
spekpy's wheel (164 MB) cannot travel to a lent GPU host; host_env.sh serves these recorded values through
stand-in modules instead (same numbers; a call outside the record raises KeyError). Recorded: the training
augmentation on IMAGES (default data/real/images/train), every scanner profile, a few synthetic scenes and drug
composites, and then every material's attenuation on every energy grid seen, so the generators run on the host.
"""
import glob
import pickle
import sys

import cv2
import numpy as np
import spekpy
import xraydb

rec = {"mu": {}, "spek": {}}
orig_mu = xraydb.material_mu
def material_mu(formula, energy, density=None, **kw):
    r = np.asarray(orig_mu(formula, energy, density=density, **kw))
    rec["mu"][(formula, float(density), np.asarray(energy, dtype=np.float64).tobytes())] = r
    return r
xraydb.material_mu = material_mu
OrigSpek = spekpy.Spek
class Spek:
    def __init__(self, kvp, th, dk): self.key = [kvp, th, dk]; self.s = OrigSpek(kvp=kvp, th=th, dk=dk)
    def filter(self, el, mm): self.key.append((el, mm)); self.s.filter(el, mm); return self
    def get_spectrum(self):
        r = self.s.get_spectrum(); rec["spek"][repr(self.key)] = (np.asarray(r[0]), np.asarray(r[1])); return r
spekpy.Spek = Spek
from xscreen.training.augment import XrayAugment, apply_profile
from xscreen.vision.xray.profiles import list_profiles, load_profile

a = XrayAugment(p_gray=0.5, p_profile=1.0)
imgs = sorted(glob.glob(f"{sys.argv[2] if len(sys.argv) > 2 else 'data/real/images/train'}/*.jpg"))[::200]
for i in range(60):
    a({"img": cv2.imread(imgs[i % len(imgs)]), "cls": np.zeros((0, 1))})
for name in list_profiles():  # every profile once, whatever the random draws above missed
    apply_profile(cv2.imread(imgs[0])[..., ::-1].copy(), load_profile(name), np.random.default_rng(0))
import tempfile
from pathlib import Path

from xscreen.datasets.synth.drug_tip import DrugTipOptions, drug_tip_dataset
from xscreen.datasets.synth.writer import generate_dataset
from xscreen.vision.xray.materials import MATERIALS

with tempfile.TemporaryDirectory() as tmp:
    generate_dataset(Path(tmp) / "synth", count=4, seed=0, config=Path("configs/synth/train640.yaml"), progress=False)
    backgrounds = Path(sys.argv[2]).parents[1] if len(sys.argv) > 2 else Path("data/real")
    for family in ("train", "heldout"):
        drug_tip_dataset(backgrounds, Path(tmp) / family, split="train", count=4, seed=0, options=DrugTipOptions(family=family), progress=False)
for grid in {key[2] for key in rec["mu"] if key[1] == 1.0}:  # mass attenuation (density 1) grids
    for material in MATERIALS.values():
        for formula, _ in material.components:
            material_mu(formula, np.frombuffer(grid, dtype=np.float64), density=1.0)
pickle.dump(rec, open(sys.argv[1], "wb"))
print(len(rec["mu"]), len(rec["spek"]), list(rec["spek"]))
