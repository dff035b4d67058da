#!/usr/bin/env bash
# The from-scratch must-shows on the tiny preset, one after another (2-core CPU: ~45 minutes).
# Figures land in each output's smolmoe_scratch.json and in the printed lines.
set -euo pipefail
OUT=${OUT:-runs/scratch}
export SMOLMOE_THREADS=${SMOLMOE_THREADS:-1}
S="nice -n 10 smolmoe scratch"
D=$OUT/data

$S presets --train-step tiny                                             # 6 (cortex: --train-step cortex on a GPU)
$S run --preset tiny --out $OUT --overwrite                              # 1: <= 20 min, losses before/after
$S sft $OUT/sft --data $D/reasoning/train.jsonl --val $D/reasoning/val.jsonl \
   --out $OUT/reasoning --steps 300 --seq-len 128 --overwrite           # reasoning SFT
$S budget-check $OUT/reasoning --data $D/grpo/test.jsonl --limit 50 \
   --budget 0 --budget 2 --budget 4 --budget 8                          # 4
for algo in grpo gspo; do                                                # 2
  $S grpo $OUT/reasoning --algo $algo --data $D/grpo/train.jsonl --val $D/grpo/test.jsonl \
     --out $OUT/$algo --steps 80 --overwrite
done
$S dpo $OUT/reasoning --data $D/dpo/train.jsonl --val $D/dpo/val.jsonl --out $OUT/dpo --overwrite   # 3
$S sft $OUT/reasoning --data $D/sft/train.jsonl --val $D/sft/val.jsonl --out $OUT/lora \
   --lora-r 8 --steps 100 --overwrite                                    # 5: LoRA
$S merge-lora $OUT/reasoning $OUT/lora/adapter --out $OUT/lora-merged --overwrite
$S init --preset tiny --tokenizer $OUT/tokenizer --layers 2 --hidden-size 64 --out $OUT/student --overwrite
$S distill $OUT/student --teacher $OUT/reasoning --data $D/pretrain/train.jsonl \
   --val $D/pretrain/val.jsonl --out $OUT/distilled --steps 200 --overwrite   # 5: distillation
