#!/usr/bin/env bash
# The runtime validations committed in reports/: every host runtime, predicted from its runtime
# table of micro-benchmarks alone (issue 10), at 1 and 2 threads.
#
# Timings need a quiet machine: run this alone, nothing else busy, from the repository root:
#     scripts/runtime_validations.sh                 # calibrate (if no table yet) + validate all
#     RUNS="litert-xnnpack:int8" THREADS=1 scripts/runtime_validations.sh
#     RECALIBRATE=1 scripts/runtime_validations.sh   # re-measure the tables first
# Each run writes into a temporary folder and replaces reports/validation-<runtime>-<precision>-<T>t
# only when it finished.
set -euo pipefail

cd "$(dirname "$0")/.."
EDGEKIT=${EDGEKIT:-edgekit}
REPEATS=${REPEATS:-3}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-"litert-xnnpack:int8 litert-builtin:int8 litert-xnnpack:fp32 onnxruntime-cpu:fp32"}
# At least 28 models: RepLKNet-31T (deploy), FastViT x3, EfficientFormer v1 and v2, EfficientViT,
# ConvNeXt-T, MobileNetV1-V3, MobileOne and MobileNetV4 x5.
MODELS=('mobilenetv*' 'mobileone_*' 'fastvit_*' efficientformer_l1 efficientformer_l3
        'efficientformerv2_*' efficientvit_b1 efficientvit_b2 replknet_31t convnext_tiny)

for t in $THREADS; do
    for run in $RUNS; do
        rt=${run%%:*}
        prec=${run##*:}
        out=reports/validation-$rt-$prec-${t}t
        table=${EDGEKIT_CACHE_DIR:-$HOME/.cache/edgekit}/runtime-tables/$rt-$prec-${t}t.json
        if [[ -n ${RECALIBRATE:-} || ! -f $table ]]; then
            "$EDGEKIT" calibrate --runtime "$rt" --precision "$prec" --threads "$t"
        fi
        new=$(mktemp -d "reports/.validation-$rt-$prec-${t}t.XXXXXX")
        echo "== $out (into $new first)" >&2
        "$EDGEKIT" validate --runtime "$rt" --precision "$prec" --threads "$t" --no-layers \
            --no-train-form --repeats "$REPEATS" --models "${MODELS[@]}" --out "$new"
        rm -rf "$out" && mv "$new" "$out"
    done
done
