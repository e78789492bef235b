#!/usr/bin/env bash
# Times README command 1 the way a new user meets it: a fresh clone of this checkout's HEAD,
# a fresh cache, then the README's first command line exactly as written (venv, install,
# demo run, table). Every stderr/stdout line is stamped with the seconds since the start, so
# the log splits the wall time into install, demo generation, stand-in and each method.
#
#   scripts/time_first_run.sh [WORKDIR]    # default: a new temporary folder
#
# Writes WORKDIR/first_run.log (stamped output) and prints the total wall time. Needs the
# package registry for the install (pip's own cache is used if it has the wheels).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
git clone -q "$src" "$work/clone"
export IPIQA_BENCH_CACHE="$work/cache"
cd "$work/clone"
command1=$(grep -A1 '^# 1\. ' README.md | sed -n 2p)
[ -n "$command1" ] || { echo "README.md has no '# 1.' command line" >&2; exit 2; }
echo "command 1: $command1" >&2
start=$(date +%s.%N)
set +e
bash -c "$command1" 2>&1 | python3 -u -c '
import sys, time
t0 = float(sys.argv[1])
for line in sys.stdin:
    for part in line.rstrip("\n").split("\r"):  # tqdm redraws with carriage returns
        if part.strip():
            print(f"{time.time() - t0:8.1f} {part}", flush=True)
' "$start" > "$work/first_run.log"
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
python3 -c "import sys; print(f'command 1: exit {sys.argv[3]}, {float(sys.argv[2]) - float(sys.argv[1]):.0f} s wall; log: {sys.argv[4]}')" \
    "$start" "$end" "$rc" "$work/first_run.log"
exit "$rc"
