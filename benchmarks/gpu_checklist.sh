#!/usr/bin/env bash
# Everything minidl checks on a GPU, in one command, for a machine that is only lent for a while:
#
#   bash benchmarks/gpu_checklist.sh OUT_DIR [MINUTES_FOR_TRAINING]
#
# 1. the test suite on CuPy, 2. the kernel, augmentation and model benchmarks and the arch2
# profiles (GPU otherwise idle), 3. the CIFAR-10 trainings of examples/RESULTS.md, run together with
# --time-limit so that all of them end, print their RESULT line and save their plots inside the
# budget, beside arch2's accuracy parity with Keras (on its PyTorch backend) at 60 epochs. Logs,
# JSON records and plots go to OUT_DIR; paste the tables into benchmarks/RESULTS.md (run_models.py
# --from-json renders its block from the JSON record; muestra12 is measured on 10,000 samples,
# extrapolated, to fit a lease) and the RESULT lines into examples/RESULTS.md. Needs CuPy, PyTorch,
# Keras 3 and the CIFAR-10 data (bash ../shared/datasets/install.sh, or MINIDL_DATA pointing at a copy).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu_checklist.sh OUT_DIR [MINUTES_FOR_TRAINING]}
minutes=${2:-20}
mkdir -p "$out"
py=${PYTHON:-python}  # PYTHON=python3 where there is no `python`
export PYTHONUNBUFFERED=1

MINIDL_BACKEND=cupy $py -m pytest -q --ignore=tests/test_examples.py > "$out/pytest_cupy.log" 2>&1
tail -1 "$out/pytest_cupy.log"
$py benchmarks/bench_kernels.py --backend cupy > "$out/kernels.md" 2>&1
$py benchmarks/bench_augment.py --backend cupy > "$out/augment.md" 2>&1
$py benchmarks/run_models.py --device gpu --rounds 1 \
    --json-out "$out/models_gpu.json" --out "$out/models_gpu.md" > "$out/run_models.log" 2>&1
$py benchmarks/profile_gpu.py --steps 10 --top 40 > "$out/profile_gpu_arch2.md" 2>&1
$py benchmarks/bench_models.py --framework minidl --device gpu --model cifar10_k.arch2 \
    --profile "$out/cprofile_arch2.txt" > /dev/null 2>&1
MINIDL_BACKEND=cupy $py benchmarks/bench_overhead.py --steps 20 --rounds 3 > "$out/overhead.txt" 2>&1

MINIDL_BACKEND=cupy KERAS_BACKEND=torch $py benchmarks/parity_cifar.py --model arch2 --train 45000 \
    --epochs 60 --seeds 0 > "$out/parity_arch2.md" 2>&1 &
runs=("cifar10_arquitecturas.py --arch 1" "cifar10_arquitecturas.py --arch 1m" "cifar10_arquitecturas.py --arch 2"
      "cifar10_arquitecturas.py --arch 2leaky" "cifar10_arquitecturas.py --arch 3"
      "cifar10_arquitecturas.py --arch 3aug" "cifar10_arquitecturas.py --arch 3aug_soft"
      "cifar10_muestras.py --muestra 1" "cifar10_muestras.py --muestra 6" "cifar10_muestras.py --muestra 8"
      "cifar10_muestras.py --muestra 10" "cifar10_muestras.py --muestra 11" "cifar10_muestras.py --muestra 12"
      "ej10_cifar_alexnet.py --model tp4b" "ej10_cifar_vgg16.py --model tp4b")
for run in "${runs[@]}"; do
    name=$(echo "$run" | tr -c 'a-z0-9' _)
    $py examples/$run --backend cupy --quiet --time-limit "$minutes" \
        --plot "$out/$name.png" > "$out/$name.log" 2>&1 &
done
wait
grep -h '^RESULT' "$out"/*.log
