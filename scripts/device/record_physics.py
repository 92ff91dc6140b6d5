"""Record every xraydb.material_mu result and spekpy spectrum the training augmentation needs.

    python scripts/device/record_physics.py .pack/physics.pkl
spekpy's wheel (164 MB) cannot travel to a lent GPU host; train_on_lent_gpu.sh serves these recorded values
through stand-in modules instead (same numbers; a call outside the record raises KeyError).
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
imgs = sorted(glob.glob("data/default/images/train/*.jpg"))[::200]
for i in range(60):
    a({"img": cv2.imread(imgs[i % len(imgs)]), "cls": np.zeros((0, 1))})
for name in list_profiles():  # every profile once, whatever the random draws above missed
    apply_profile(cv2.imread(imgs[0])[..., ::-1].copy(), load_profile(name), np.random.default_rng(0))
pickle.dump(rec, open(sys.argv[1], "wb"))
print(len(rec["mu"]), len(rec["spek"]), list(rec["spek"]))
