#!/usr/bin/env bash
# Train the face-region SimMIM models on one CUDA GPU in about MINUTES (default 7) minutes of wall time.
#
# Four runs share the GPU side by side (each model is small: one alone leaves the GPU idle while its
# DataLoader workers augment faces on the CPU): the shipped mouth and eye architectures, and a larger one of each.
# Every run trains with L1 + edges and, from halfway (--adv-start 0.5), the patch discriminator's term too.
# The caches come from a machine with MediaPipe (a GPU machine may have none), e.g. for the shipped eye model:
#   python -c "from pipelines.face.simmim.data import build_cache; build_cache([
#       '../shared/data/faces-expressive/openpeople', '../shared/data/faces-train', 'SFHQ_FACES'], '.gpu/eye.npz',
#       image_size=64, region='eye', public_domain_only=True, exclude=('P008_*', 'P009_*', 'P010_*'))"
# and likewise .gpu/mouth.npz with image_size=128, region='mouth' (SFHQ_FACES: weights/recipes/sfhq_t2i_faces.py).
# With .gpu/eye128.npz (the eye cache at image_size=128) a fifth run trains a 128 px eye model (8 px patches, the
# same 16x16 grid): the shipped 64 px one is enlarged 3-6x on big photos, and the pipeline takes either size
# (pipelines/face/eyes.py gives its sizes in pixels of a 64 px window).
# The chosen run's config.json + model.safetensors are what ships in weights/simmim-{mouth,eye}/ (their READMEs
# say which run, on which data, and what it measured).
#
# Usage: CACHE=.gpu OUT=runs MINUTES=7 WORKERS=3 bash weights/recipes/train_on_gpu.sh
#   RESUME=1: each run goes on from OUT/NAME/checkpoint for MINUTES more (a run without one starts fresh).
#   INIT=1: the two base runs start from the shipped weights (weights/simmim-mouth, weights/simmim-eye) and
#           fine-tune them with a fresh optimiser and schedule; the larger runs start fresh (or RESUME).
set -u
CACHE=${CACHE:-.gpu}
OUT=${OUT:-runs}
MINUTES=${MINUTES:-7}
RESUME=${RESUME:-0}
INIT=${INIT:-0}
# DataLoader processes per run: a quarter of the cores each. The H200 lent on 2026-12-04 showed 2 cores (nproc),
# and augmenting faces on them, not the GPU, set the pace: the eye run made 3,649 steps of 128 in 7 minutes.
WORKERS=${WORKERS:-$((($(nproc) + 3) / 4))}
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"

train() {  # NAME ARGS...: one run, its output in OUT/NAME and its log in OUT/NAME.log (appended to)
    local name=$1
    shift
    PYTHONUNBUFFERED=1 "$PYTHON" -m pipelines --device "$DEVICE" train-simmim --out "$OUT/$name" --quiet \
        --max-minutes "$MINUTES" --workers "$WORKERS" --warmup-steps 300 --edge-loss 1.0 --adv-start 0.5 \
        --sample-every 2000 --checkpoint-every 100000 $([ "$RESUME" = 1 ] && echo --resume) "$@" >>"$OUT/$name.log" 2>&1
    echo "$name: exit $?, $(grep -c . "$OUT/$name.log") log lines"
}

MOUTH=(--region mouth --cache "$CACHE/mouth.npz" --image-size 128 --batch-size 64 --adv-loss 0.1)
EYE=(--region eye --cache "$CACHE/eye.npz" --image-size 64 --patch-size 4 --batch-size 128 --adv-loss 0.2)
shipped() {  # REGION: --init-from the shipped model of that region with INIT=1 (its architecture replaces the flags)
    [ "$INIT" = 1 ] && echo --init-from "weights/simmim-$1"
}
train mouth-base "${MOUTH[@]}" --patch-size 16 --hidden-size 192 --layers 4 --heads 6 --refine-channels 16 --lr 1e-3 \
    $(shipped mouth) &
train mouth-big "${MOUTH[@]}" --patch-size 8 --hidden-size 256 --layers 8 --heads 8 --refine-channels 32 --lr 5e-4 &
train eye-base "${EYE[@]}" --hidden-size 192 --layers 4 --heads 6 --refine-channels 16 --lr 1e-3 $(shipped eye) &
train eye-big "${EYE[@]}" --hidden-size 256 --layers 6 --heads 8 --refine-channels 32 --lr 7e-4 &
if [ -f "$CACHE/eye128.npz" ]; then
    train eye-128 --region eye --cache "$CACHE/eye128.npz" --image-size 128 --patch-size 8 --batch-size 64 \
        --adv-loss 0.2 --hidden-size 256 --layers 6 --heads 8 --refine-channels 32 --lr 7e-4 &
fi
wait
