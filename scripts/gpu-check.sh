#!/usr/bin/env bash
# Run the three GPU providers side by side on a machine with a real NVIDIA GPU
# and print their payloads and a comparison table. Works without network:
#   - Python packages missing there (fastapi, pydantic, ...) may be carried as
#     wheels in .whl/ (see docs/gpu-check.md for the download command);
#   - nvtop may be carried as a .deb in .carry/ (nvtop_3.2.0-1_amd64.deb).
# Usage: scripts/gpu-check.sh [OUT_DIR]     (OUT_DIR defaults to ./gpu-check-out)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-check-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}

if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/gpulens-site .whl/*.whl || exit 1
fi
export PYTHONPATH="$PWD/src:/tmp/gpulens-site:${PYTHONPATH:-}"

NVTOP=$(command -v nvtop || true)
if [ -z "$NVTOP" ] && ls .carry/nvtop_*.deb >/dev/null 2>&1; then
  dpkg -x .carry/nvtop_*.deb /tmp/gpulens-nvtop && NVTOP=/tmp/gpulens-nvtop/usr/bin/nvtop
fi
export NVTOP_PATH=${NVTOP:-/nonexistent/nvtop}

{
  echo "# gpulens gpu-check — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1
  "$NVTOP" --version 2>&1 | head -1 || echo "nvtop: not available"
  $PY -c 'import pynvml; print("nvidia-ml-py", pynvml.__version__ if hasattr(pynvml, "__version__") else "?")' 2>&1
} | tee "$OUT/environment.txt"

# A GPU process to observe (PyTorch matmul loop plus a memory holder), when torch is there.
LOAD_PIDS=()
if $PY -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  $PY -c "import torch; x=torch.randn(8192,8192,device='cuda'); exec('while True: y = x @ x')" &
  LOAD_PIDS+=($!)
  $PY -c "import torch,time; t=torch.empty(2*1024**3, dtype=torch.uint8, device='cuda'); time.sleep(600)" &
  LOAD_PIDS+=($!)
  sleep 8
fi
cleanup() { for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

status=0
for provider in nvml nvidia-smi nvtop; do
  if $PY -m gpulens snapshot --provider "$provider" > "$OUT/snapshot-$provider.json" 2> "$OUT/snapshot-$provider.err"; then
    echo "== $provider: ok"
  else
    echo "== $provider: FAILED: $(cat "$OUT/snapshot-$provider.err")"; status=1
  fi
done
$PY -m gpulens snapshot > "$OUT/snapshot-auto.json" 2>&1 || status=1
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader,nounits \
  > "$OUT/query-compute-apps.csv" 2>&1

$PY - "$OUT" <<'PYEOF' | tee "$OUT/comparison.md"
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
fields = ["name", "uuid", "utilization", "memoryUsed", "memoryTotal", "temperature",
          "powerUsage", "powerLimit", "fanSpeed", "smClock", "memoryClock", "encoderUtilization"]
rows = {}
for p in ("nvml", "nvidia-smi", "nvtop"):
    try:
        data = json.loads((out / f"snapshot-{p}.json").read_text())
        rows[p] = data["gpus"]
    except Exception as exc:  # noqa: BLE001
        rows[p] = exc
print("| field | " + " | ".join(rows) + " |")
print("| --- " * (len(rows) + 1) + "|")
for f in fields:
    cells = []
    for p, gpus in rows.items():
        cells.append("error" if isinstance(gpus, Exception) else
                     ", ".join(str(g.get(f)) for g in gpus) or "(no GPU)")
    print(f"| {f} | " + " | ".join(cells) + " |")
print()
for p, gpus in rows.items():
    if isinstance(gpus, Exception):
        continue
    procs = [(q["pid"], q["name"], q["usedMemoryMiB"], q["user"]) for g in gpus for q in g["processes"]]
    print(f"- {p} processes: {procs}")
auto = json.loads((out / "snapshot-auto.json").read_text())
print(f"- auto picked: {auto['source']}; unavailable: {auto['unavailable']}")
PYEOF
exit $status
