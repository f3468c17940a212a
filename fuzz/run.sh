#!/bin/sh
# Fuzz one target for a while: fuzz/run.sh TARGET MINUTES
# TARGET is reader, decoder, pipeline or policy. A second run resumes the
# first (out/TARGET keeps the corpus). Runs at the lowest priority.
set -eu
target=${1:?usage: fuzz/run.sh TARGET MINUTES}
minutes=${2:-5}
cd "$(dirname "$0")"
cargo afl build --release --bin "$target"
mkdir -p out
# AFL++ needs neither a performance CPU governor nor a core-dump handler here;
# AFL_AUTORESUME continues an earlier run's queue instead of refusing.
AFL_SKIP_CPUFREQ=1 \
AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
AFL_NO_UI=1 \
AFL_AUTORESUME=1 \
    nice -n 19 cargo afl fuzz -V $((minutes * 60)) -i "seeds/$target" -o "out/$target" \
    "target/release/$target" >"out/$target.log" 2>&1 || true
stats="out/$target/default/fuzzer_stats"
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|edges_found|total_edges|bitmap_cvg|saved_crashes|saved_hangs) ' "$stats"
for kind in crashes hangs; do
    found=$(find "out/$target/default/$kind" -type f -name 'id:*' 2>/dev/null | wc -l)
    if [ "$found" -gt 0 ]; then
        echo "$found $kind in out/$target/default/$kind: copy each to tests/regressions/$target/"
    fi
done
