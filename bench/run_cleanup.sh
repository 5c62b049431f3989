# Sourced by the bench scripts that start servers in process groups they record in $RUN/pids (the Python drivers
# do): on exit, stop the driver ($DRIVER), kill whatever is left of those groups, and remove $RUN unless the run
# failed or KEEP_RUN=1. Needs BENCH_NAME, RUN and DRIVER set by the sourcing script.

fields() { # fields PID -> "STATE PPID PGRP ... STARTTIME" (stat after the command name), builtins only
    local line
    read -r line < "/proc/$1/stat" 2>/dev/null || return 1
    echo "${line##*) }"
}

cleanup() {
    local rc=$? pid st name p i f
    trap - EXIT INT TERM
    if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then
        kill -TERM "$DRIVER" 2>/dev/null || true   # timeout(1) passes it on; the driver stops what it started
        for ((i = 0; i < 150; i++)); do kill -0 "$DRIVER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DRIVER" 2>/dev/null || true
        wait "$DRIVER" 2>/dev/null || true
    fi
    # Whatever is left of the recorded process groups (normally nothing): every process whose group is a recorded
    # PID and which started no earlier than that recorded process (so a recycled PID is never hit), by PID.
    if [ -s "$RUN/pids" ]; then
        declare -A recorded=()
        while read -r pid st name; do recorded[$pid]="$st $name"; done < "$RUN/pids"
        for p in /proc/[0-9]*; do
            p=${p#/proc/}
            f=$(fields "$p") || continue
            set -- $f
            [ -n "${recorded[$3]:-}" ] || continue
            read -r st name <<< "${recorded[$3]}"
            [ "${20}" -ge "$st" ] 2>/dev/null || continue
            echo "$BENCH_NAME: killing left-over $name process $p" >&2
            kill -KILL "$p" 2>/dev/null || true
        done
    fi
    if [ "${KEEP_RUN:-0}" = 1 ] || [ "$rc" != 0 ]; then
        echo "$BENCH_NAME: run directory kept: $RUN" >&2
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
