# The lent GPU host's Python environment for xscreen, sourced by the scripts beside it (no registry there, and
# polars/spekpy do not travel): carried wheels installed to /tmp/site, stand-ins for polars (pandas), spekpy and
# xraydb (the values recorded here by record_physics.py), xscreen's package layout by symlinks, PYTHONPATH.
# Sets REPO, PY, DEV, HOURS and T0 (env: PY, DEV, HOURS, SKIP_PIP as the calling script documents).
set -u
REPO=$(pwd); PY=${PY:-python3}; DEV=${DEV:-0}; HOURS=${HOURS:-0.125}
export PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false
T0=$(date +%s)
if [ -z "${SKIP_PIP:-}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
fi
# polars (54 MB) does not travel: ultralytics only reads results.csv with it; pandas stands in.
mkdir -p /tmp/shim/polars /tmp/pkg/xscreen
cat > /tmp/shim/polars/__init__.py <<'PY'
import io
import pandas as _pd
class _Frame:
    def __init__(self, df): self._df = df
    def to_dict(self, as_series=False): return {c: self._df[c].tolist() for c in self._df.columns}
def read_csv(src, **_):
    return _Frame(_pd.read_csv(io.BytesIO(src) if isinstance(src, (bytes, bytearray)) else src))
PY
# spekpy (164 MB) and xraydb do not travel: the augmentation needs one tube spectrum and a few attenuation
# curves, recorded here from the real libraries (.pack/physics.pkl); a call outside the record fails loudly.
mkdir -p /tmp/shim/spekpy /tmp/shim/xraydb
cat > /tmp/shim/spekpy/__init__.py <<PY
import pickle
_REC = pickle.load(open("$REPO/.pack/physics.pkl", "rb"))["spek"]
class Spek:
    def __init__(self, kvp, th, dk): self.key = [kvp, th, dk]
    def filter(self, el, mm): self.key.append((el, mm)); return self
    def get_spectrum(self): return _REC[repr(self.key)]
PY
cat > /tmp/shim/xraydb/__init__.py <<PY
import pickle
import numpy as np
_REC = pickle.load(open("$REPO/.pack/physics.pkl", "rb"))["mu"]
def material_mu(formula, energy, density=None, **kw):
    return _REC[(formula, float(density), np.asarray(energy, dtype=np.float64).tobytes())]
PY
# xscreen's package-dir layout without installing: symlinks (settings' REPO_ROOT resolves to the repo)
for f in xscreen/*; do ln -sf $REPO/$f /tmp/pkg/xscreen/; done
for d in vision datasets training serving; do ln -sfn $REPO/$d /tmp/pkg/xscreen/$d; done
export PYTHONPATH=/tmp/shim:/tmp/pkg:/tmp/site
