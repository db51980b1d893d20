# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Shared bootstrap for tools/run-tests.sh and tools/try-nova-drs.sh; meant
# to be sourced, not run. It defines:
#
#   drs_header TEXT            print a section header
#   drs_bootstrap PIP_ARGS...  make sure the system packages and the virtual
#                              environment are there, then
#                              `pip install PIP_ARGS` into it
#
# and sets DRS_REPO (the repository root) and DRS_VENV (the virtual
# environment, $NOVA_DRS_VENV or .venv in the repository). After
# drs_bootstrap the venv's bin/ is first on PATH.
#
# On Debian or Ubuntu, missing system packages (python3-venv, python3-dev,
# gcc, git) are installed with apt-get, as root or through sudo. Everything
# is idempotent: a healthy .venv is reused and pip runs again only when
# the requirements, setup.cfg or the requested install change.

DRS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRS_VENV=${NOVA_DRS_VENV:-$DRS_REPO/.venv}
DRS_PYTHON=${PYTHON:-python3}

drs_header() {
    printf '\n==== %s ====\n' "$*"
}

_drs_note() {
    printf 'bootstrap: %s\n' "$*"
}

_drs_die() {
    printf 'bootstrap: error: %s\n' "$*" >&2
    return 1
}

# Debian packages that provide what is missing on this machine. Checks the
# capability rather than the package, so a Python that is not Debian's
# (pyenv, a container image) is not given packages it does not use.
_drs_missing_packages() {
    local missing=()
    if ! command -v "$DRS_PYTHON" >/dev/null 2>&1; then
        missing+=(python3)
    else
        if ! "$DRS_PYTHON" -c 'import ensurepip, venv; ensurepip.version()' \
                >/dev/null 2>&1; then
            missing+=(python3-venv)
        fi
        if ! "$DRS_PYTHON" - >/dev/null 2>&1 <<'EOF'
import os
import sys
import sysconfig
sys.exit(not os.path.exists(
    os.path.join(sysconfig.get_paths()['include'], 'Python.h')))
EOF
        then
            missing+=(python3-dev)
        fi
    fi
    command -v gcc >/dev/null 2>&1 || missing+=(gcc)
    command -v git >/dev/null 2>&1 || missing+=(git)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "${missing[*]}"
    fi
}

_drs_system_packages() {
    local missing sudo=()
    missing=$(_drs_missing_packages)
    if [ -z "$missing" ]; then
        _drs_note "system packages: nothing missing"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        _drs_die "missing: $missing; install them with your package manager"
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            _drs_die "missing: $missing; run as root or install sudo"
            return 1
        fi
        sudo=(sudo)
    fi
    local packages
    read -r -a packages <<<"$missing"
    _drs_note "installing Debian packages: $missing"
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get update -q \
        || ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${packages[@]}"
    then
        _drs_die "apt-get install $missing failed"
        return 1
    fi
}

_drs_venv_healthy() {
    [ -x "$DRS_VENV/bin/python" ] \
        && "$DRS_VENV/bin/python" -c 'import sys' >/dev/null 2>&1 \
        && "$DRS_VENV/bin/pip" --version >/dev/null 2>&1
}

_drs_venv() {
    if _drs_venv_healthy; then
        _drs_note "reusing virtual environment $DRS_VENV"
        return 0
    fi
    if [ -e "$DRS_VENV" ]; then
        _drs_note "virtual environment $DRS_VENV is broken: recreating it"
        rm -rf "$DRS_VENV"
    else
        _drs_note "creating virtual environment $DRS_VENV"
    fi
    "$DRS_PYTHON" -m venv "$DRS_VENV" \
        || { _drs_die "cannot create $DRS_VENV"; return 1; }
    "$DRS_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        --upgrade pip \
        || { _drs_die "cannot upgrade pip in $DRS_VENV"; return 1; }
}

# A stamp named after everything that decides what pip installs.
_drs_stamp() {
    local f
    {
        printf '%s\n' "$@"
        for f in requirements.txt test-requirements.txt doc/requirements.txt \
                setup.cfg pyproject.toml; do
            [ -f "$DRS_REPO/$f" ] && cat "$DRS_REPO/$f"
        done
        "$DRS_VENV/bin/python" --version
    } | sha1sum | cut -c1-16
}

_drs_pip_install() {
    local stamp
    stamp="$DRS_VENV/.nova-drs-installed-$(cd "$DRS_REPO" && _drs_stamp "$@")"
    if [ -f "$stamp" ] && [ -x "$DRS_VENV/bin/nova-drs" ]; then
        _drs_note "requirements unchanged since the last install: skipping pip"
        return 0
    fi
    # pbr computes the version from git; outside a git checkout (or in one
    # git refuses to read) give it one so that the install still works.
    if [ -z "${PBR_VERSION:-}" ] \
            && ! git -C "$DRS_REPO" rev-parse --git-dir >/dev/null 2>&1; then
        _drs_note "no usable git checkout: using PBR_VERSION=0.0.0"
        export PBR_VERSION=0.0.0
    fi
    _drs_note "pip install $* (the first time takes a few minutes)"
    (cd "$DRS_REPO" && "$DRS_VENV/bin/python" -m pip install -q \
        --disable-pip-version-check "$@") \
        || { _drs_die "pip install $* failed"; return 1; }
    rm -f "$DRS_VENV"/.nova-drs-installed-*
    touch "$stamp"
}

drs_bootstrap() {
    _drs_system_packages || return 1
    _drs_venv || return 1
    _drs_pip_install "$@" || return 1
    export VIRTUAL_ENV="$DRS_VENV"
    export PATH="$DRS_VENV/bin:$PATH"
}
