#!/usr/bin/env bash
# The system packages the project needs, for `make setup` (and so `make test`, `make demo`,
# `make bench`): Java 17 and Maven (the local Kafka broker and its jars), Prometheus'
# promtool and server (the monitoring tests), Chromium (the browser tests drive it headless
# through Playwright, whose own browser download is not used) and Python's venv module (the
# virtual environment). Whatever is missing is installed with apt-get when running as root
# on a Debian-like system; otherwise one line names the exact command to run and the exit
# status is 1. With everything present it prints nothing and installs nothing.
#
# `setup-system.sh venv` checks the venv module only: the Makefile's venv rule, which
# lint, typecheck and test-unit use without the rest. Environment: PYTHON (the
# interpreter the venv is made from, default python3), VENV (the venv directory; once
# it exists the venv module is not needed any more) and REGSOSEK_CHROMIUM (a Chromium
# binary the browser tests use instead of the one on PATH).
set -euo pipefail

only=${1:-all}
python=${PYTHON:-python3}
venv=${VENV:-.venv}

missing_tools=()
packages=()

need() { # need TOOL PACKAGE: note TOOL as missing, PACKAGE as what provides it
  missing_tools+=("$1")
  case " ${packages[*]-} " in *" $2 "*) ;; *) packages+=("$2") ;; esac
}

check() {
  missing_tools=()
  packages=()
  if [ "$only" != venv ]; then
    if ! command -v java >/dev/null 2>&1 && ! [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then
      need java openjdk-17-jre-headless
    fi
    command -v mvn >/dev/null 2>&1 || need mvn maven
    command -v promtool >/dev/null 2>&1 || need promtool prometheus
    command -v prometheus >/dev/null 2>&1 || need prometheus prometheus
    if ! command -v chromium >/dev/null 2>&1 && ! [ -x "${REGSOSEK_CHROMIUM:-/nonexistent}" ]; then
      need chromium chromium
    fi
  fi
  if ! [ -x "$venv/bin/python" ]; then
    # Debian splits ensurepip (which `python3 -m venv` needs) into python3.X-venv.
    local venv_package=python3-venv
    case "${python##*/}" in python3.[0-9]*) venv_package="${python##*/}-venv" ;; esac
    if ! command -v "$python" >/dev/null 2>&1; then
      need "$python" python3
      packages+=("$venv_package")
    elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
      need "$python -m venv" "$venv_package"
    fi
  fi
}

check
[ ${#packages[@]} -eq 0 ] && exit 0

install=(install -y -q --no-install-recommends "${packages[@]}")
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "make setup: missing ${missing_tools[*]}; run: sudo apt-get update && sudo apt-get ${install[*]}" >&2
  else
    echo "make setup: missing ${missing_tools[*]}; install Java 17, Maven, Prometheus" \
      "(promtool and the server), Chromium and Python's venv module, then run make again" >&2
  fi
  exit 1
fi

echo "make setup: installing ${packages[*]} (for ${missing_tools[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get "${install[@]}"

check
if [ ${#packages[@]} -gt 0 ]; then
  echo "make setup: still missing ${missing_tools[*]} after installing ${packages[*]}" >&2
  exit 1
fi
