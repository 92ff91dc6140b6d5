#!/bin/bash
# Train on a GPU host lent for minutes by this workplace's device tool (no registry, no polars/spekpy there):
# several runs side by side, each `CONFIG[:NAME[:MODEL]]` (configs/train/CONFIG.yaml; MODEL overrides the
# config's, e.g. yolov8n.yaml or a carried .pt). How the shipped models were trained (docs/model.md).
# Prepared here, in the repo root:
#   python scripts/device/pack_train_split.py .pack/default 512 52 && tar -cf .pack/default.tar -C .pack default && rm -r .pack/default
#   python scripts/device/record_physics.py .pack/physics.pkl
#   cp runs/train/reference-plain-gpu/weights/last.pt .pack/reference-last.pt   # stage 1, which stage 2 continues
#   pip download (ultralytics, ultralytics-thop, pydantic, pydantic-core, pydantic-settings, python-dotenv,
#     typing-inspection, annotated-types for cp312) into .whl/
# then on the host (carry .pack and .whl), as run on 2026-11-26 (xscreen-yolo11n:2's stage 2 and the comparisons):
#   HOURS=0.12 LIMIT=550 bash scripts/device/train_on_lent_gpu.sh default-v2-gpu::.pack/reference-last.pt \
#     no-opixray-gpu:arch-yolo11n no-opixray-gpu:arch-yolov8n:yolov8n.yaml no-opixray-gpu:arch-yolo26n:yolo26n.yaml no-opixray-plain-gpu
# Stage 2b then ran on the same warm host: run(load_options(configs/train/default-v2b-gpu.yaml,
#   data=/tmp/data/default/data.yaml, project=/tmp/runs, model=/tmp/runs/default-v2-gpu/weights/last.pt)).
# Env: PY (python), DEV (0|cpu), HOURS (overrides the configs' budget), LIMIT (seconds for everything),
# OUT (results), SKIP_PIP (dry run here with the venv).
source "$(dirname "$0")/host_env.sh"
mkdir -p /tmp/data && tar -xf .pack/default.tar -C /tmp/data || exit 4
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
echo "setup $(( $(date +%s) - T0 )) s"
train() {  # config name model
  cd /tmp && timeout $(( ${LIMIT:-540} - ($(date +%s) - T0) )) $PY -c "
import logging; from pathlib import Path
logging.basicConfig(level=logging.INFO)
from xscreen.training.train import load_options, run
o = load_options(Path('$REPO/configs/train/$1.yaml'), name='$2', data=Path('/tmp/data/default/data.yaml'), device='$DEV',
                 time=${HOURS:-None}, project=Path('/tmp/runs'), model=('$3' and ('$3' if '$3'.endswith('.yaml') else '$REPO/$3')) or None)
print(run(o))
" > /tmp/logs/$2.log 2>&1; echo "$2 exit $?" >> /tmp/logs/$2.log
}
mkdir -p /tmp/logs
NAMES=()
for spec in "$@"; do
  IFS=: read -r cfg name model <<< "$spec"; name=${name:-$cfg}; NAMES+=("$name")
  train "$cfg" "$name" "$model" &
done
# copy checkpoints out every 20 s: a call killed at its limit still returns each run's last epoch
( while true; do sleep 20
    for n in "${NAMES[@]}"; do W=/tmp/runs/$n
      [ -f $W/weights/last.pt ] && cp $W/weights/last.pt $OUT/tmp.pt && mv $OUT/tmp.pt $OUT/$n-last.pt; done; done ) & COPIER=$!
wait $(jobs -p | grep -v "^$COPIER$")
kill $COPIER 2>/dev/null
# The device tool returns at most 8 files per call: one checkpoint per run, everything else in one archive.
for n in "${NAMES[@]}"; do W=/tmp/runs/$n
  cp $W/weights/last.pt $OUT/$n-last.pt 2>/dev/null
  mkdir -p /tmp/meta/$n && cp $W/results.csv $W/args.yaml $W/train.txt /tmp/logs/$n.log /tmp/meta/$n/ 2>/dev/null
  tail -c 600 /tmp/logs/$n.log; done
tar -czf $OUT/meta.tgz -C /tmp/meta .
ls -la $OUT; echo "total $(( $(date +%s) - T0 )) s"
