#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (with AddressSanitizer and LeakSanitizer) and runs
# each for a fixed budget, one after another.
#
#   scripts/fuzz.sh [TARGET...] [--seconds N] [--runs N] [--no-build]
#
# TARGET is FuzzGGUF, FuzzSafeTensors, FuzzTokenizerJSON, FuzzIDX, FuzzPNG,
# FuzzCommandLanguage or FuzzLMW (default: all). A target stops after N seconds or N
# executions, whichever comes first (default 600 s / 1,000,000), or at its first crash, leak,
# timeout (10 s) or out-of-memory (2 GB). The corpus grows in Fuzz/corpus/<TARGET>/ (seeded
# from Fuzz/corpus/seeds/, made by Fuzz/seed.sh), failing inputs land in
# Fuzz/corpus/artifacts/<TARGET>/, the log in Fuzz/corpus/logs/<TARGET>.log. A timeout that
# does not reproduce on a second run (a starved, niced process) is set aside and the target
# resumes. Builds and runs are niced. Exit status 1 when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(FuzzGGUF FuzzSafeTensors FuzzTokenizerJSON FuzzIDX FuzzPNG FuzzCommandLanguage FuzzLMW)
seconds=600 runs=1000000 build=1 targets=()
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        Fuzz*) targets+=("$1"); shift ;;
        *) echo "fuzz.sh: unknown argument '$1' (targets: ${ALL[*]})" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")

# Longest input per format: big enough for a real header and its metadata, small enough
# that mutations stay fast.
max_len() {
    case $1 in
        FuzzGGUF) echo 300000 ;;
        FuzzSafeTensors|FuzzIDX|FuzzPNG|FuzzLMW) echo 65536 ;;
        FuzzTokenizerJSON) echo 131072 ;;
        FuzzCommandLanguage) echo 8192 ;;
    esac
}

SCRATCH=${FUZZ_SCRATCH:-.build-fuzz}   # the build folder (FUZZ_SCRATCH to override)
if [ $build = 1 ]; then
    for t in "${targets[@]}"; do
        nice -n 10 swift build -c release --package-path Fuzz --scratch-path "$SCRATCH" \
            -Xswiftc -sanitize=fuzzer,address --product "$t" 2>&1 | grep -v '^\[' || true
        [ -x "$SCRATCH/release/$t" ] || { echo "fuzz.sh: building $t failed" >&2; exit 2; }
    done
fi
[ -d Fuzz/corpus/seeds ] || Fuzz/seed.sh

status=0
summary=()
for t in "${targets[@]}"; do
    corpus=Fuzz/corpus/$t artifacts=Fuzz/corpus/artifacts/$t log=Fuzz/corpus/logs/$t.log
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    : > "$log"
    mkdir -p "$artifacts/slow" "$artifacts/unreproduced"
    before=$(ls "$artifacts" | wc -l)
    start=$(date +%s) execs=0 found=0 restarts=0
    echo "== $t: up to $seconds s or $runs runs"
    # libFuzzer stops at its first finding. A timeout that does not reproduce when the input
    # is run again (a busy machine starving this niced process) is set aside and the run
    # resumes with the rest of its budget; anything else ends the target.
    while :; do
        left_s=$(( seconds - ($(date +%s) - start) )) left_r=$(( runs - execs ))
        [ $left_s -gt 0 ] && [ $left_r -gt 0 ] || break
        # ASan's leak check runs at exit and after each input libFuzzer suspects of leaking.
        # SWIFT_BACKTRACE off: the Swift runtime's crash reporter reads memory ASan then flags,
        # hiding the real trap; libFuzzer prints the stack of a Swift trap itself.
        SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
        nice -n 10 "$SCRATCH/release/$t" "$corpus" "Fuzz/corpus/seeds/$t" \
            -max_total_time="$left_s" -runs="$left_r" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
            -max_len="$(max_len "$t")" -dict="Fuzz/dict/$t.dict" -artifact_prefix="$artifacts/" \
            -print_final_stats=1 >> "$log" 2>&1 || true
        n=$({ grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true; } | { grep -o '[0-9]*$' || true; } | tail -1)
        execs=$(( execs + ${n:-0} ))
        sed -i 's/stat::number_of_executed_units/counted_units/' "$log"
        # libFuzzer also writes inputs that took over 10 s as slow-unit-*: kept apart, not findings.
        for f in "$artifacts"/slow-unit-*; do
            if [ -e "$f" ]; then mv "$f" "$artifacts/slow/"; fi
        done
        newest=$(ls -t "$artifacts" | { grep -v '^slow$\|^unreproduced$' || true; } | head -1)
        [ $(( $(ls "$artifacts" | wc -l) - before )) -gt 0 ] || break
        if [[ $newest == timeout-* ]] && SWIFT_BACKTRACE=enable=no timeout 20 nice -n 10 "$SCRATCH/release/$t" -runs=1 "$artifacts/$newest" > /dev/null 2>&1; then
            mv "$artifacts/$newest" "$artifacts/unreproduced/"
            echo "   (timeout did not reproduce on a second run: machine load; resuming)" | tee -a "$log"
            restarts=$(( restarts + 1 ))
            continue
        fi
        found=1
        break
    done
    elapsed=$(( $(date +%s) - start ))
    files=$(ls "$corpus" | wc -l) bytes=$({ cat "$corpus"/* 2>/dev/null || true; } | wc -c)
    if [ "$found" -gt 0 ]; then
        status=1
        echo "   FOUND: $artifacts/$newest — see $log"
        { grep -m3 'ERROR:\|Fatal error\|SUMMARY' "$log" || true; } | sed 's/^/   /'
    fi
    line=$(printf '%-20s %10s execs %5d s  corpus %5d files %9d bytes  found %d  set aside %d' \
        "$t" "$execs" "$elapsed" "$files" "$bytes" "$found" "$restarts")
    echo "   $line"
    summary+=("$line")
done
echo
printf '%s\n' "${summary[@]}"
exit $status
