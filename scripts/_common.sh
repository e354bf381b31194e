# shellcheck shell=bash
# Shell helpers shared by scripts/demo and scripts/test. Source it; do not run it.
#
# ff_ensure_venv [test]  creates $VENV with a real Python >= 3.11 when it is
#                        missing or broken, and installs the project in it
#                        (editable; with the test extras when asked). The
#                        install is skipped while a stamp in $VENV records the
#                        same setup.cfg and pyproject.toml.
#
# Set FF_PYTHON=/path/to/python3.11 to choose the interpreter yourself.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
FF_MIN_PYTHON="3.11"
FF_PROG="${FF_PROG:-$(basename "$0")}"

ff_say() { printf '%s\n' "$*"; }
ff_die() {
    printf '%s: error: %s\n' "$FF_PROG" "$*" >&2
    exit 1
}

# Print "X.Y.Z" for interpreter $1, or nothing when it does not run.
ff_python_version() {
    "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true
}

# Succeed when interpreter $1 runs and is at least $FF_MIN_PYTHON.
ff_python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

# Print the absolute path of a real Python >= 3.11 interpreter (resolving
# pyenv shims through sys.executable), or fail with the candidates tried.
ff_find_python() {
    local candidates=() cand real tried=() root
    [[ -n "${FF_PYTHON:-}" ]] && candidates+=("$FF_PYTHON")
    candidates+=(python3 python3.13 python3.12 python3.11 python)
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
        if [[ -n "$root" && -d "$root/versions" ]]; then
            # Newest installed pyenv version first.
            while IFS= read -r cand; do
                [[ -x "$cand" ]] && candidates+=("$cand")
            done < <(printf '%s\n' "$root"/versions/3.*/bin/python3 | sort -rV)
        fi
    fi
    for cand in "${candidates[@]}"; do
        command -v "$cand" >/dev/null 2>&1 || continue
        real="$("$cand" -c 'import sys; print(sys.executable)' 2>/dev/null || true)"
        if [[ -z "$real" || ! -x "$real" ]]; then
            tried+=("$cand (does not run)")
            continue
        fi
        if ff_python_ok "$real"; then
            printf '%s\n' "$real"
            return 0
        fi
        tried+=("$cand -> $real ($(ff_python_version "$real"))")
    done
    {
        printf '%s: error: FluxForge needs Python >= %s to create %s, and none was found.\n' \
            "$FF_PROG" "$FF_MIN_PYTHON" "$VENV"
        if ((${#tried[@]})); then
            printf '  tried: %s\n' "${tried[@]}"
        else
            printf '  tried: no python3 on PATH\n'
        fi
        printf '  Install one (e.g. with: pyenv install 3.11) or set FF_PYTHON=/path/to/python3.11.\n'
    } >&2
    return 1
}

# Create $VENV unless it holds a working Python >= 3.11.
ff_create_venv() {
    local py version
    if [[ -x "$VENV/bin/python" ]] && ff_python_ok "$VENV/bin/python"; then
        return 0
    fi
    if [[ -e "$VENV" ]]; then
        version="$(ff_python_version "$VENV/bin/python")"
        ff_say "==> $VENV is unusable (python: ${version:-does not run}); recreating it"
        rm -rf "$VENV"
    fi
    py="$(ff_find_python)" || exit 1
    ff_say "==> Creating $VENV with $py ($(ff_python_version "$py"))"
    "$py" -m venv "$VENV" ||
        ff_die "'$py -m venv' failed; on Debian install python3-venv, or use a pyenv Python"
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip \
        >"$VENV/pip-install.log" 2>&1; then
        tail -n 30 "$VENV/pip-install.log" >&2
        ff_die "could not upgrade pip in $VENV (is PyPI reachable?)"
    fi
}

# Hash of what decides the installed metadata and dependencies.
ff_install_hash() {
    cat "$REPO_ROOT/setup.cfg" "$REPO_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1
}

# ff_ensure_venv [test]: the venv exists and holds the project (and test extras).
ff_ensure_venv() {
    local extra="${1:-}" spec="." stamp hash
    ff_create_venv
    [[ -n "$extra" ]] && spec=".[$extra]"
    stamp="$VENV/.fluxforge-installed${extra:+-$extra}"
    hash="$(ff_install_hash)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" && -x "$VENV/bin/ff" ]]; then
        return 0
    fi
    ff_say "==> Installing FluxForge into $VENV (pip install -e '$spec')"
    # The build backend's warnings would drown the output: keep them in a log.
    if ! (cd "$REPO_ROOT" && "$VENV/bin/python" -m pip install -q \
        --disable-pip-version-check -e "$spec") >"$VENV/pip-install.log" 2>&1; then
        tail -n 30 "$VENV/pip-install.log" >&2
        ff_die "pip install -e '$spec' failed; full output in $VENV/pip-install.log"
    fi
    printf '%s\n' "$hash" >"$stamp"
    # The test install includes the plain one.
    [[ -n "$extra" ]] && printf '%s\n' "$hash" >"$VENV/.fluxforge-installed"
    return 0
}

# ff_ensure_atheris: atheris (the fuzzer) is importable in $VENV, installed
# when missing; fails (with the pip log kept) when it cannot be installed.
ff_ensure_atheris() {
    "$VENV/bin/python" -c 'import atheris' 2>/dev/null && return 0
    ff_say "==> Installing atheris into $VENV (pip install 'atheris>=2.3')"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check 'atheris>=2.3' \
        >"$VENV/pip-atheris.log" 2>&1 && return 0
    tail -n 5 "$VENV/pip-atheris.log" >&2
    return 1
}
