#!/usr/bin/env bash
# Re-run the committed LiteRT int8 validations (reports/validation-litert-int8-xnnpack and
# -no-xnnpack) after a change to how benchmark artifacts are built (issue 9: trained-like
# initialisation of random weights, so converters no longer fold residual branches away).
#
# Timings need a quiet machine: run this alone, nothing else busy, from the repository root:
#     scripts/rerun_litert_validations.sh            # both runs, 3 rounds each
#     REPEATS=5 scripts/rerun_litert_validations.sh
# The command line is the one README.md's "Validation on this host, LiteRT int8" paragraph
# states. The artifact cache keys on the edgekit code, so stale artifacts are not reused.
set -euo pipefail

cd "$(dirname "$0")/.."
EDGEKIT=${EDGEKIT:-edgekit}
REPEATS=${REPEATS:-3}
MODELS=('mobilenetv*' 'mobileone_*' 'fastvit_*' efficientformer_l1 efficientformer_l3
        'efficientformerv2_*' efficientvit_b1 efficientvit_b2 replknet_31t convnext_tiny)

for tag in xnnpack no-xnnpack; do
    extra=()
    [[ $tag == no-xnnpack ]] && extra=(--no-xnnpack)
    out=reports/validation-litert-int8-$tag
    new=$(mktemp -d "reports/.validation-litert-int8-$tag.XXXXXX")
    echo "== $out (into $new first)" >&2
    "$EDGEKIT" validate --runtime litert --precision int8 --no-layers --no-train-form \
        --repeats "$REPEATS" --models "${MODELS[@]}" "${extra[@]}" --out "$new"
    rm -rf "$out" && mv "$new" "$out"  # the committed folder changes only after a full run
done
