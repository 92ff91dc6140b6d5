#!/bin/bash
# Issue 15's drug fine-tune on a GPU host lent for minutes (docs/drugs.md, section 5): the real backgrounds travel
# (28 MB), the drug composites and synthetic scenes are generated there on its cores, then
# configs/train/drugs-v4-gpu.yaml trains from checkpoints/drugs-v3i-cpu.pt. Prepared here, in the repo root:
#   python scripts/device/pack_backgrounds.py data/real .pack/real 640 60 300 && tar -cf .pack/real.tar -C .pack real && rm -r .pack/real
#   python scripts/device/record_physics.py .pack/physics.pkl
#   wheels into .whl/ as scripts/device/train_on_lent_gpu.sh lists them
# then on the host (carry .pack and .whl):
#   LIMIT=560 HOURS=0.1 bash scripts/device/train_drugs_on_lent_gpu.sh
# $OUT gets drugs-v4-gpu-last.pt (copied every 20 s, so a run stopped at its limit still returns its last
# epoch) and meta.tgz (the logs, results.csv, args.yaml, the generated sets' summaries). Export, calibration and
# the drug, firearm and gray measurements run here afterwards (docs/drugs.md lists them).
# Env as train_on_lent_gpu.sh, and DRUGS / SYNTH (composites and scenes to generate), JOBS (processes), EDGED
# (share of the composites that also get a throwing star or razor blades, labelled knife: hard negatives for
# firearm in gray and colour, docs/bench/metal_tip.md; the scenes of configs/synth/train640.yaml draw them too).
source "$(dirname "$0")/host_env.sh"
DRUGS=${DRUGS:-2400}; SYNTH=${SYNTH:-800}; JOBS=${JOBS:-$(nproc)}; EDGED=${EDGED:-0.3}
mkdir -p /tmp/data /tmp/gen /tmp/logs /tmp/meta && tar -xf .pack/real.tar -C /tmp/data || exit 4
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
echo "setup $(( $(date +%s) - T0 )) s"
# Composites in JOBS chunks of their own seeds (composite i of seed s is the same bytes wherever it is made).
for k in $(seq 0 $((JOBS - 1))); do
  $PY -c "
from pathlib import Path
from xscreen.datasets.synth.drug_tip import DrugTipOptions, drug_tip_dataset
drug_tip_dataset(Path('/tmp/data/real'), Path('/tmp/gen/drugs-$k'), split='train', count=$(( (DRUGS + JOBS - 1) / JOBS )), seed=$((1000 + k)),
                 options=DrugTipOptions(family='train', edged_probability=$EDGED), progress=False)
" > /tmp/logs/drugs-$k.log 2>&1 &
done
$PY -c "
from pathlib import Path
from xscreen.datasets.synth.writer import generate_dataset
generate_dataset(Path('/tmp/gen/synth'), count=$SYNTH, seed=404, config=Path('$REPO/configs/synth/train640.yaml'), workers=max(1, $JOBS // 2), progress=False)
" > /tmp/logs/synth.log 2>&1 &
wait
for k in $(seq 0 $((JOBS - 1))); do for sub in images labels meta; do
  mkdir -p /tmp/data/drugtip/$sub/train && cp -r /tmp/gen/drugs-$k/$sub/train/. /tmp/data/drugtip/$sub/train/; done; done
cp /tmp/gen/drugs-0/data.yaml /tmp/data/drugtip/data.yaml
# Hard negatives (docs/drugs.md, section 10): the real training scans the default model scores highest for a drug,
# three times an epoch. Dry-run on a CPU only (docs/drugs.md section 10): if mining fails the run goes on without them (logged).
HARD=()
if $PY scripts/mine_drug_negatives.py --models-dir $REPO/models --lists /tmp/data/real/train-sixray.txt /tmp/data/real/train-opixray.txt \
     --top 250 --out /tmp/data/hard-negatives.txt > /tmp/logs/mine.log 2>&1; then HARD=(--hard-negatives /tmp/data/hard-negatives.txt --hard-repeat 2)
else echo "hard-negative mining failed; training without (logs/mine.log)"; fi
$PY scripts/drug_training_set.py --real /tmp/data/real --drugs /tmp/data/drugtip --out /tmp/data/ft --opixray 300 \
  --drug-count $DRUGS --synth /tmp/gen/synth --synth-count $SYNTH "${HARD[@]}" --seed 5 > /tmp/logs/set.log 2>&1 || { cat /tmp/logs/*.log; exit 5; }
cat /tmp/logs/set.log; echo "data $(( $(date +%s) - T0 )) s"
W=/tmp/runs/drugs-v4-gpu
( while true; do sleep 20; [ -f $W/weights/last.pt ] && cp $W/weights/last.pt $OUT/tmp.pt && mv $OUT/tmp.pt $OUT/drugs-v4-gpu-last.pt; done ) & COPIER=$!
cd /tmp && timeout $(( ${LIMIT:-560} - ($(date +%s) - T0) )) $PY -c "
import logging; from pathlib import Path
logging.basicConfig(level=logging.INFO)
from xscreen.training.train import load_options, run
o = load_options(Path('$REPO/configs/train/drugs-v4-gpu.yaml'), data=Path('/tmp/data/ft/data.yaml'), device='$DEV', time=$HOURS,
                 project=Path('/tmp/runs'))
print(run(o))
" > /tmp/logs/train.log 2>&1; echo "train exit $?" >> /tmp/logs/train.log
kill $COPIER 2>/dev/null
cp $W/weights/last.pt $OUT/drugs-v4-gpu-last.pt 2>/dev/null
cp $W/results.csv $W/args.yaml /tmp/logs/*.log /tmp/meta/ 2>/dev/null
tail -c 1500 /tmp/logs/train.log
tar -czf $OUT/meta.tgz -C /tmp/meta .
ls -la $OUT; echo "total $(( $(date +%s) - T0 )) s"
