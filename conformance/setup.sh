#!/usr/bin/env bash
# Prepares what conformance/run.sh needs, outside this repository: a checkout of InterUSS
# interuss/monitoring at a pinned commit (with the two interface submodules uss_qualifier reads
# at run time) and a Python 3.13 venv with monitoring's locked dependencies.
#
# Usage: conformance/setup.sh MONITORING_DIR VENV_DIR
#
# Environment (all optional):
#   PYTHON313          Python >= 3.13 interpreter used to create the venv (default: python3.13)
#   MONITORING_REPO    where to clone interuss/monitoring from (default: GitHub)
#   MONITORING_COMMIT  commit to check out (default: the one this configuration was written against)
#   PROTOCOL_REPO      astm-utm/Protocol (utm.yaml, used for response schema checks)
#   TESTING_INTERFACES_REPO  interuss/automated_testing_interfaces
# The submodules are checked out at the commits monitoring pins.
set -euo pipefail

die() {
    echo "conformance/setup.sh: $*" >&2
    exit 2
}

[[ $# -eq 2 ]] || die "usage: conformance/setup.sh MONITORING_DIR VENV_DIR"
monitoring_dir="$1"
venv="$2"
python313="${PYTHON313:-python3.13}"
monitoring_repo="${MONITORING_REPO:-https://github.com/interuss/monitoring}"
monitoring_commit="${MONITORING_COMMIT:-03613895f5cc176ff285eb3b79b5acab07a75e65}"
protocol_repo="${PROTOCOL_REPO:-https://github.com/astm-utm/Protocol}"
testing_repo="${TESTING_INTERFACES_REPO:-https://github.com/interuss/automated_testing_interfaces}"

command -v "$python313" >/dev/null || die "$python313 not found (set PYTHON313 to a Python >= 3.13)"
"$python313" -c 'import sys; sys.exit(sys.version_info < (3, 13))' \
    || die "$python313 is older than Python 3.13"

if [[ ! -d "$monitoring_dir/.git" ]]; then
    git clone -q "$monitoring_repo" "$monitoring_dir"
fi
git -C "$monitoring_dir" checkout -q "$monitoring_commit"

for entry in "interfaces/astm-utm/Protocol $protocol_repo" "interfaces/automated_testing $testing_repo"; do
    path="${entry%% *}"
    url="${entry#* }"
    pinned="$(git -C "$monitoring_dir" ls-tree HEAD "$path" | awk '{print $3}')"
    [[ -n "$pinned" ]] || die "monitoring commit $monitoring_commit has no submodule at $path"
    if [[ ! -e "$monitoring_dir/$path/.git" ]]; then
        rm -rf "${monitoring_dir:?}/$path"
        git clone -q "$url" "$monitoring_dir/$path"
    fi
    git -C "$monitoring_dir/$path" checkout -q "$pinned"
    echo "$path at $pinned"
done

if [[ ! -x "$venv/bin/python" ]]; then
    "$python313" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q uv
requirements="$venv/monitoring-requirements.txt"
(cd "$monitoring_dir" && "$venv/bin/uv" export --frozen --no-dev --no-hashes --no-emit-project -q -o "$requirements")
UV_CONCURRENT_BUILDS=1 nice -n 10 "$venv/bin/uv" pip install -q --python "$venv/bin/python" -r "$requirements"

echo "ready; run the check with:"
echo "  MONITORING_DIR=$monitoring_dir MONITORING_PYTHON=$venv conformance/run.sh"
