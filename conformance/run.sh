#!/usr/bin/env bash
# External F3548 conformance check: InterUSS uss_qualifier's `dss_probing` suite against a pool of
# two `sharedsky serve` processes sharing one database. See conformance/README.md.
#
# Usage: conformance/run.sh [--db URL | --postgres] [--filter REGEX]
#   --db URL        database both instances share (default: a fresh SQLite file in the run folder).
#                   Use an empty PostgreSQL database: the suite creates and deletes its own entities.
#   --postgres      start a throwaway PostgreSQL (the pgserver wheel of this repository's .venv) in
#                   the run folder and use it.
#   --filter REGEX  run only the scenarios whose class name matches (uss_qualifier --filter).
#
# Environment:
#   MONITORING_DIR     checkout of interuss/monitoring, with interfaces/astm-utm/Protocol present (required)
#   MONITORING_PYTHON  Python >= 3.13 with monitoring's dependencies: the interpreter or its venv
#                      folder (required)
#   SHAREDSKY          the sharedsky command (default: .venv/bin/sharedsky of this repository)
#   SHAREDSKY_TEST_PUBLIC_KEY  public test key the servers trust (default: ../shared/spec/test-certs/auth2.pem)
#   CONFORMANCE_NICE   niceness of the servers and of uss_qualifier (default: 10)
#   CONFORMANCE_PORTS  the two local ports of the pool (default: "8082 8083", as in dss_probing.yaml)
#
# Writes conformance/out/run-<UTC time>/ (report/report.json, failures.md, logs) and points
# conformance/out/latest at it. Exits 1 if a High or Critical check failed or a scenario
# raised an execution error, 2 on a setup problem.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
read -r -a ports <<<"${CONFORMANCE_PORTS:-8082 8083}"

die() {
    echo "conformance/run.sh: $*" >&2
    exit 2
}

db_url=""
use_postgres=0
filter=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --db) [[ $# -ge 2 ]] || die "--db needs a URL"; db_url="$2"; shift 2 ;;
        --postgres) use_postgres=1; shift ;;
        --filter) [[ $# -ge 2 ]] || die "--filter needs a regular expression"; filter="$2"; shift 2 ;;
        -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# ----- Check the uss_qualifier side -----
[[ -n "${MONITORING_DIR:-}" ]] || die "MONITORING_DIR is not set: point it at a checkout of interuss/monitoring (see conformance/README.md)"
[[ -f "$MONITORING_DIR/monitoring/uss_qualifier/main.py" ]] \
    || die "MONITORING_DIR=$MONITORING_DIR is not an interuss/monitoring checkout (no monitoring/uss_qualifier/main.py)"
[[ -f "$MONITORING_DIR/interfaces/astm-utm/Protocol/utm.yaml" ]] \
    || die "$MONITORING_DIR/interfaces/astm-utm/Protocol/utm.yaml is missing: check out the astm-utm/Protocol submodule at the pinned commit"
[[ -n "${MONITORING_PYTHON:-}" ]] || die "MONITORING_PYTHON is not set: point it at the Python 3.13 venv holding monitoring's dependencies"
python="$MONITORING_PYTHON"
[[ -d "$python" ]] && python="$python/bin/python"
[[ -x "$python" ]] || die "MONITORING_PYTHON=$MONITORING_PYTHON is not an executable Python nor a venv folder"
# Absolute paths: uss_qualifier runs from inside the checkout.
monitoring_dir="$(cd "$MONITORING_DIR" && pwd)"
[[ "$python" == /* ]] || python="$PWD/$python"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 13))' \
    || die "MONITORING_PYTHON=$MONITORING_PYTHON is older than Python 3.13 (uss_qualifier needs 3.13)"
"$python" -c 'import implicitdict, uas_standards, jwcrypto, s2sphere' 2>/dev/null \
    || die "MONITORING_PYTHON=$MONITORING_PYTHON lacks monitoring's dependencies (install them from its uv.lock, see README)"

# ----- Check the sharedsky side -----
sharedsky="${SHAREDSKY:-$repo/.venv/bin/sharedsky}"
[[ -x "$sharedsky" ]] || die "sharedsky command not found at $sharedsky (set SHAREDSKY)"
public_key="${SHAREDSKY_TEST_PUBLIC_KEY:-$repo/../shared/spec/test-certs/auth2.pem}"
[[ -f "$public_key" ]] || die "public test key not found at $public_key (set SHAREDSKY_TEST_PUBLIC_KEY)"
nice_level="${CONFORMANCE_NICE:-10}"
[[ ${#ports[@]} -eq 2 && "${ports[0]}" =~ ^[0-9]+$ && "${ports[1]}" =~ ^[0-9]+$ ]] \
    || die "CONFORMANCE_PORTS must name two port numbers, e.g. \"8082 8083\""
for port in "${ports[@]}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is already in use (choose two free ports with CONFORMANCE_PORTS=\"P1 P2\")"
    fi
done

run_dir="$here/out/run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run_dir"
ln -sfn "$(basename "$run_dir")" "$here/out/latest"
[[ -n "$db_url" && $use_postgres == 1 ]] && die "--db and --postgres exclude each other"

# ----- Start the pool -----
pids=()
pg_pid=""
stop_servers() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
stop_all() {
    stop_servers
    if [[ -n "$pg_pid" ]]; then
        kill "$pg_pid" 2>/dev/null || true
        wait "$pg_pid" 2>/dev/null || true
        pg_pid=""
        rm -rf "$run_dir/pgdata"  # throwaway cluster; the report keeps every request and answer
    fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

if ((use_postgres)); then
    # Holds a pgserver cluster until terminated; prints its URL (SQLAlchemy form) first.
    "$repo/.venv/bin/python" -c '
import signal, sys
import pgserver
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with pgserver.get_server(sys.argv[1], cleanup_mode="stop") as server:
    print(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1), flush=True)
    signal.pause()
' "$run_dir/pgdata" >"$run_dir/pg.url" 2>"$run_dir/pg.log" &
    pg_pid=$!
    for _ in $(seq 1 120); do
        [[ -s "$run_dir/pg.url" ]] && break
        kill -0 "$pg_pid" 2>/dev/null || { cat "$run_dir/pg.log" >&2; die "PostgreSQL did not start"; }
        sleep 0.5
    done
    [[ -s "$run_dir/pg.url" ]] || die "PostgreSQL did not start within 60 s ($run_dir/pg.log)"
    db_url="$(head -n 1 "$run_dir/pg.url")"
fi
[[ -n "$db_url" ]] || db_url="sqlite:///$run_dir/dss.sqlite"

wait_healthy() {  # port pid log
    local deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "sharedsky serve on port $1 exited early; last lines of $3:" >&2
            tail -n 30 "$3" >&2
            exit 2
        fi
        if [[ "$(curl -s -m 2 "http://127.0.0.1:$1/healthy" || true)" == *ok* ]]; then
            return 0
        fi
        sleep 0.3
    done
    echo "sharedsky serve on port $1 not healthy after 60 s; last lines of $3:" >&2
    tail -n 30 "$3" >&2
    exit 2
}

# One after the other: the first one brings a fresh database to the current schema.
for port in "${ports[@]}"; do
    log="$run_dir/serve-$port.log"
    nice -n "$nice_level" "$sharedsky" serve --db "$db_url" --host 127.0.0.1 --port "$port" \
        --public-key "$public_key" --audience localhost --audience 127.0.0.1 \
        --allow-http-base-urls >"$log" 2>&1 &
    pids+=("$!")
    wait_healthy "$port" "$!" "$log"
done
echo "sharedsky pool up on ports ${ports[*]} (db: ${db_url%%\?*})"

# ----- Run uss_qualifier -----
# The configuration names the pool as localhost:8082 and localhost:8083; the copy that runs (kept
# in the run folder) names the ports actually used.
config="$run_dir/dss_probing.yaml"
sed -e "s|http://localhost:8082|http://localhost:${ports[0]}|" \
    -e "s|http://localhost:8083|http://localhost:${ports[1]}|" "$here/dss_probing.yaml" >"$config"
qualifier_args=(--config "file://$config" --output-path "$run_dir/report")
[[ -n "$filter" ]] && qualifier_args+=(--filter "$filter")
echo "running uss_qualifier dss_probing (log: $run_dir/uss_qualifier.log) ..."
started=$SECONDS
set +e
(
    cd "$monitoring_dir"
    SHAREDSKY_AUTH_1='NoAuth(sub=uss1)' SHAREDSKY_AUTH_2='NoAuth(sub=uss2)' \
        nice -n "$nice_level" "$python" -m monitoring.uss_qualifier.main "${qualifier_args[@]}"
) >"$run_dir/uss_qualifier.log" 2>&1
qualifier_rc=$?
set -e
echo "uss_qualifier finished in $((SECONDS - started)) s (exit code $qualifier_rc)"
stop_servers

report="$run_dir/report/report.json"
if [[ ! -f "$report" ]]; then
    echo "no report written; last lines of $run_dir/uss_qualifier.log:" >&2
    tail -n 40 "$run_dir/uss_qualifier.log" >&2
    exit 2
fi
set +e
"$python" "$here/summarize.py" "$report" --markdown "$run_dir/failures.md"
summary_rc=$?
set -e
for port in "${ports[@]}"; do
    crashes="$(grep -c '^Traceback' "$run_dir/serve-$port.log" || true)"
    if ((crashes > 0)); then
        echo "sharedsky serve on port $port logged $crashes tracebacks: $run_dir/serve-$port.log"
    fi
done
if ((summary_rc == 0 && qualifier_rc != 0)); then
    echo "uss_qualifier itself exited with $qualifier_rc; see $run_dir/uss_qualifier.log" >&2
    exit 1
fi
exit "$summary_rc"
