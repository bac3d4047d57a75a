#!/usr/bin/env bash
# `oomlint fit`: a script's predicted peak with its buckets, the ladder with links that exist,
# --gpu with the cheapest set that fits (exit 1 when the run does not fit as written), JSON for
# CI, flags that override the script, and a script without a model: the missing facts, exit 3,
# no number. Usage errors exit 2.
set -uo pipefail
BIN="${OOMLINT_BINARY:?}"
SRC="${OOMLINT_SOURCE_DIR:?}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
source "${OOMLINT_SOURCE_DIR:?}/tests/integration/support/checks.sh" || exit 1

cat > train.py <<'PY'
from transformers import AutoModelForCausalLM, TrainingArguments, Trainer

model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf")
args = TrainingArguments("out", per_device_train_batch_size=4, bf16=True)
Trainer(model=model, args=args, train_dataset=ds).train()
PY

expect_rc "fit without --gpu" 0 "$BIN" fit train.py
for b in weights gradients "optimizer state" activations "logits and loss" "temporary buffers" \
         "allocator reserve" "CUDA context"; do
  has "bucket $b" "  $b" out.txt
done
has "Korthikanti cited" "Korthikanti et al. 2022" out.txt
has "sequence length assumed, with its flag" "--seq-len N" out.txt
has "ladder" "The ladder (M4)" out.txt
has "bf16 already used" "bf16 mixed precision: already used" out.txt
# Every guide link the ladder prints leads to a page that exists.
dead=0; n=0
while IFS= read -r url; do
  n=$((n + 1)); path="${url#file://}"; path="$(printf '%b' "${path//%/\\x}")"
  [ -f "$path" ] || { echo "  dead: $url"; dead=$((dead + 1)); }
done < <(grep -oE 'file://[^ )"]+\.md' out.txt | sort -u)
if [ "$n" -gt 0 ] && [ "$dead" = 0 ]; then ok "$n guide links, none dead"; else bad "$n links, $dead dead"; fi

expect_rc "does not fit an RTX 4090" 1 "$BIN" fit train.py --gpu "RTX 4090" --seq-len 1024
has "cheapest set printed" "Cheapest set of changes that fits" out.txt
expect_rc "fits a 2000 GB card" 0 "$BIN" fit train.py --gpu 2000GB
has "fits" "Fits a 2000 GB" out.txt

expect_rc "json" 0 "$BIN" fit train.py --output-format json --seq-len 512 --batch 1 --docs-url https://example.org/docs
python3 - out.txt <<'PY' && ok "json shape" || bad "json shape"
import json, sys
j = json.load(open(sys.argv[1]))
assert set(["buckets", "peak_bytes", "assumptions", "ladder"]) <= set(j), j.keys()
assert all(set(["name", "bytes", "formula", "source"]) <= set(b) for b in j["buckets"])
assert j["peak_bytes"] > j["peak_allocated_bytes"] > 0
assert "512 tokens" in j["setup"] and "micro-batch 1" in j["setup"], j["setup"]
assert all(r["url"].startswith("https://example.org/docs/guide/M") for r in j["ladder"])
PY

cat > nomodel.py <<'PY'
import torch
x = torch.zeros(3)
PY
expect_rc "no model: missing facts" 3 "$BIN" fit nomodel.py
has "says how to give the model" "--model" err.txt
if grep -qE '[0-9]+(\.[0-9]+)? GB' out.txt err.txt; then bad "no number printed"; else ok "no number printed"; fi
expect_rc "no model: json" 3 "$BIN" fit nomodel.py --output-format json
has "json names the missing facts" '"missing"' out.txt

expect_rc "--model supplies the model, but there is no training" 3 "$BIN" fit nomodel.py --model gpt2
has "names the training set-up" "the training set-up" err.txt
hasnt "and only that" "the model:" err.txt

expect_rc "unknown gpu" 2 "$BIN" fit train.py --gpu TPUv9
has "lists known gpus" "A100-80GB" err.txt
expect_rc "missing file" 2 "$BIN" fit does-not-exist.py
expect_rc "bad format" 2 "$BIN" fit train.py --output-format yaml
expect_rc "help" 0 "$BIN" fit --help
exit $fail
