#!/usr/bin/env bash
# Runs the W1–W5 workloads in PyTorch eager (and JAX jit if installed) and in
# Anneal, interleaved in one command on the same machine state, with
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this command only (so OpenBLAS
# picks its AVX-512 kernels, as on a user's machine).
#
#   PEER=~/peer/bin/python scripts/bench_vs_peers.sh [--only W1,W2] [--threads 2] [--rounds 3]
#
# Needs a release build (`make build`) and a Python with torch (see
# ../shared/peers/README.md: torch==2.15.0 in a venv outside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
PEER=${PEER:-$HOME/peer/bin/python}
ONLY=W1,W1F,W2,W3,W4,W5
THREADS=2
ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in
    --only) ONLY=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
PEERS=../shared/peers
[ -d "$PEERS" ] || PEERS=/work/shared/peers
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for round in $(seq "$ROUNDS"); do
  echo "# round $round"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PEER" "$PEERS/torch_workloads.py" --threads "$THREADS" --only "$ONLY"
  if "$PEER" -c 'import jax' 2>/dev/null; then
    PJRT_NPROC=$THREADS env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PEER" "$PEERS/jax_workloads.py" "$THREADS" --only "$ONLY" 2>/dev/null | grep -E "^W" || true
  fi
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .build/release/anneal bench --threads "$THREADS" --only "$ONLY"
done
