#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for `just up` / `just test`, or
# stops with a message that says exactly what to install.
# Usage: scripts/ensure-deps.sh up|test|frontend|browser
set -euo pipefail
what="${1:-test}"

have() { command -v "$1" >/dev/null 2>&1; }
apt_updated=""
apt_install() {
    if [ "$(id -u)" != 0 ] || ! have apt-get; then
        echo "error: missing Debian package(s): $* — install them with: sudo apt-get install -y $*" >&2
        exit 1
    fi
    if [ -z "$apt_updated" ]; then
        apt-get update -qq
        apt_updated=1
    fi
    echo "installing $* (Debian packages)…" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ "$what" = frontend ]; then
    if ! have node || ! have npm; then
        apt_install nodejs npm
    fi
    major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$major" -lt 20 ]; then
        echo "error: the website needs Node.js >= 20.19 (found $(node --version)); install a newer Node.js" >&2
        exit 1
    fi
    exit 0
fi

if [ "$what" = browser ]; then
    [ -x /usr/bin/chromium ] || apt_install chromium
    have curl || apt_install curl
    exit 0
fi

have cargo || { echo "error: Rust is not installed: see https://rustup.rs" >&2; exit 1; }
have nats-server || apt_install nats-server

if [ "$what" = test ]; then
    # scripts/check-compose.py (compose.yml and the observability files).
    have python3 || apt_install python3
    if ! python3 -c 'import yaml' 2>/dev/null; then
        apt_install python3-yaml
        python3 -c 'import yaml' 2>/dev/null || {
            echo "error: $(command -v python3) cannot import yaml: install PyYAML for it (pip install pyyaml)" >&2
            exit 1
        }
    fi
    if have rustup; then
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    fi
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "installing cargo-nextest…" >&2
        cargo install cargo-nextest --locked
    fi
    # The monitor's tests page through a real SMTP server: Python's aiosmtpd
    # (any python3 on PATH, or Debian's /usr/bin/python3).
    if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1 && ! /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && have apt-get; then
            apt_install python3-aiosmtpd
        elif have pip3; then
            echo "installing aiosmtpd (pip, user site)…" >&2
            pip3 install --user aiosmtpd
        else
            echo "error: the monitor's tests need Python's aiosmtpd: sudo apt-get install -y python3-aiosmtpd (or pip install aiosmtpd)" >&2
            exit 1
        fi
    fi
fi
