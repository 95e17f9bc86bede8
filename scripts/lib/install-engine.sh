# Sourced by scripts/run and scripts/bench: install Hypermarket as a deployment
# runs it, into the active virtual environment or ./.venv.  Leaves the shell in
# the repository's root; the caller's directory is in $caller_dir.
#
# The build is a wheel whose pure core is compiled with mypyc
# (HYPERMARKET_USE_MYPYC=1, setup.py; about 1.5x the throughput of the same
# code interpreted, docs/performance.md).  Where it cannot be compiled (no C
# compiler or Python headers) the interpreted build is installed instead, with
# a warning, and compiling is tried again next time.  Compiling takes about
# half a minute, so an install whose sources have not changed since is skipped:
# the stamp records a hash of the sources and the build that was installed
# (scripts/test replaces it with an editable install, and the check notices).
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ -z "${VIRTUAL_ENV:-}" ]; then
    [ -d .venv ] || python3 -m venv .venv
    . .venv/bin/activate
fi
stamp="$VIRTUAL_ENV/.hypermarket-engine-build"
sources=$(python - <<'PY'
import hashlib, pathlib
files = [pathlib.Path("pyproject.toml"), pathlib.Path("setup.py")]
files += sorted(
    path
    for path in pathlib.Path("hypermarket").rglob("*")
    if path.suffix in (".py", ".pyi") or path.name == "py.typed"
)
digest = hashlib.sha256()
for path in files:
    digest.update(str(path).encode() + b"\0" + path.read_bytes())
print(digest.hexdigest())
PY
)
installed_build() {
    # Imported from outside the source tree, so the installed package answers.
    (cd / && python -c 'from hypermarket.compiled import core_build; print(core_build())' 2>/dev/null) || true
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sources compiled (mypyc)" ] \
    || [ "$(installed_build)" != "compiled (mypyc)" ]; then
    python -m pip install --quiet --upgrade pip
    # setuptools builds in ./build and would pack what earlier builds left there
    # (the extension of a module no longer compiled, say): start clean.
    rm -rf build hypermarket.egg-info
    if HYPERMARKET_USE_MYPYC=1 python -m pip install --quiet .; then
        echo "$sources $(installed_build)" > "$stamp"
    else
        echo "warning: could not build the compiled core (pip's output above says why; it" \
            "needs a C compiler and the Python headers); installing the interpreted build," \
            "and compiling will be tried again next time" >&2
        rm -f "$stamp"
        HYPERMARKET_USE_MYPYC=0 python -m pip install --quiet .
    fi
fi
