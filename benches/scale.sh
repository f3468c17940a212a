#!/usr/bin/env bash
# Busy-server scale: times the whole release binary on generated workloads
# (see `cargo run --release --example bench-capture -- --list`) and prints one
# row per run: packets, file size, cpu (user + sys), wall, packets per cpu
# second and peak RSS. Every workload runs on one thread (-j 1); the
# busy-server file also runs split over threads (-j N), where wall time is
# the figure to read. On the busy-server file it also times tshark and
# tcptrace when they are installed.
#
# Usage: benches/scale.sh [OUTDIR]
#   OUTDIR      keeps the captures and logs there (default: a temp dir, removed)
# Environment:
#   WORKLOADS   names to run (default: all, in the order below)
#   SYNS        SYNs of the hash-collision workloads (default 40000; the
#               crafted ones also run at half that to show the growth)
#   TIMEOUT     seconds per run before it is reported as timed out (default 300)
#   JOBS        thread counts to split the busy-server file over, besides the
#               one-thread rows every workload gets (default: 2 and the
#               number of cores, when more)
#   BIN         the tcpshake binary to time (default: target/release/tcpshake,
#               built first); compare two builds on the same captures
#
# busy-server, short-2m and syn-flood also run `tcpshake servers` (the per-listener view):
# its cpu should stay within 10% of `analyze --format jsonl`, and its peak RSS
# flat from 100,000 to 2,000,000 connections.
set -uo pipefail
cd "$(dirname "$0")/.."

timeout_s=${TIMEOUT:-300}
syns=${SYNS:-40000}
all="busy-server busy-server-10x syn-flood half-open short-2m long-flows retrans-storm time-jump fxhash-v4 fxhash-v6 random-v4 random-v6"
workloads=${WORKLOADS:-$all}
cores=$(nproc)
jobs=${JOBS:-$( [ "$cores" -gt 2 ] && echo "2 $cores" || echo 2)}

if [ $# -ge 1 ]; then
    out=$1
    keep=1
    mkdir -p "$out"
else
    out=$(mktemp -d)
    keep=0
    trap 'rm -rf "$out"' EXIT
fi

cargo build --release --quiet --bin tcpshake --example bench-capture || exit 1
bin=${BIN:-target/release/tcpshake}
# A build from before `analyze -j` runs on one thread anyway.
if "$bin" analyze --help | grep -q -- '--jobs'; then
    one=(-j 1)
else
    one=()
    jobs=""
fi
gen=target/release/examples/bench-capture

echo "tcpshake $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), timeout ${timeout_s} s per run"
printf '%-28s %10s %8s %8s %8s %11s %9s\n' workload packets "file MB" "cpu s" "wall s" "packets/s" "peak MB"

# measure LABEL PACKETS BYTES CMD...: runs CMD (stdout discarded) under
# /usr/bin/time -v and a timeout, and prints its row.
measure() {
    local label=$1 packets=$2 bytes=$3
    shift 3
    local tlog="$out/time.log"
    /usr/bin/time -v -o "$tlog" timeout "$timeout_s" "$@" >/dev/null 2>"$out/stderr.log"
    local rc=$?
    local user sys wall rss cpu
    user=$(awk -F': ' '/User time/ {print $2}' "$tlog")
    sys=$(awk -F': ' '/System time/ {print $2}' "$tlog")
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.31"
    wall=$(awk '/Elapsed/ {n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$tlog")
    rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}' "$tlog")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    local rate
    rate=$(awk -v p="$packets" -v c="$cpu" 'BEGIN {if (c > 0) printf "%.2f M", p / c / 1e6; else print "-"}')
    local mb
    mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}')
    local note=""
    if [ "$rc" -eq 124 ]; then
        note="  timed out after ${timeout_s} s"
        rate="-"
    elif [ "$rc" -ne 0 ]; then
        note="  exit status $rc: $(tail -n 1 "$out/stderr.log")"
    fi
    printf '%-28s %10s %8s %8s %8.2f %11s %9s%s\n' "$label" "$packets" "$mb" "$cpu" "$wall" "$rate" "$rss" "$note"
}

# generate NAME FILE [ARGS...]: writes the workload; sets packets and bytes.
generate() {
    local name=$1 file=$2
    shift 2
    local line
    if ! line=$(timeout "$timeout_s" "$gen" "$file" --workload "$name" "$@" 2>"$out/gen.log"); then
        echo "$name: generator failed: $(tail -n 1 "$out/gen.log")"
        return 1
    fi
    read -r packets bytes <<<"$line"
}

drop() {
    [ "$keep" -eq 1 ] || rm -f "$1"
}

tools() {
    local file=$1
    if command -v tshark >/dev/null; then
        measure "  tshark -q -z conv,tcp" "$packets" "$bytes" tshark -q -z conv,tcp -r "$file"
    else
        echo "  (tshark not installed: skipped)"
    fi
    if command -v tcptrace >/dev/null; then
        measure "  tcptrace -n -b" "$packets" "$bytes" tcptrace -n -b "$file"
    else
        echo "  (tcptrace not installed: skipped)"
    fi
}

for w in $workloads; do
    case $w in
    fxhash-v4 | fxhash-v6) sizes="$((syns / 2)) $syns" ;;
    random-v4 | random-v6) sizes=$syns ;;
    *) sizes="" ;;
    esac
    if [ -z "$sizes" ]; then
        file="$out/$w.pcap"
        generate "$w" "$file" || continue
        measure "$w" "$packets" "$bytes" "$bin" analyze "${one[@]}" --format jsonl "$file"
        if [ "$w" = busy-server ] || [ "$w" = short-2m ] || [ "$w" = syn-flood ]; then
            measure "$w (servers)" "$packets" "$bytes" "$bin" servers "${one[@]}" --format json "$file"
        fi
        if [ "$w" = busy-server ]; then
            measure "$w (table)" "$packets" "$bytes" "$bin" analyze "${one[@]}" "$file"
            # One capture split over threads (output identical to -j 1).
            for j in $jobs; do
                measure "$w -j $j" "$packets" "$bytes" "$bin" analyze -j "$j" --format jsonl "$file"
                measure "$w (table) -j $j" "$packets" "$bytes" "$bin" analyze -j "$j" "$file"
            done
            tools "$file"
        fi
        drop "$file"
    else
        for n in $sizes; do
            file="$out/$w-$n.pcap"
            generate "$w" "$file" --syns "$n" || continue
            measure "$w ($n)" "$packets" "$bytes" "$bin" analyze "${one[@]}" --format jsonl "$file"
            drop "$file"
        done
    fi
done
rm -f "$out/time.log" "$out/stderr.log" "$out/gen.log"
