# shellcheck shell=bash
# Helpers sourced by the .ci/*.sh scripts. Each script installs what it needs,
# because a fresh CI machine has none of these tools.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

# Console scripts installed by pip land here (pyenv shims may not be rehashed yet).
if command -v python3 >/dev/null 2>&1; then
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
fi

_apt_updated=
apt_install() { # apt_install PACKAGE...
  if [ -z "$_apt_updated" ]; then
    apt-get update -qq
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_pip() { # need_pip COMMAND PIP_REQUIREMENT
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 from PyPI"
  python3 -m pip install -q --disable-pip-version-check "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 not found after pip install $2"
}

need_apt() { # need_apt COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing Debian package $2"
  apt_install "$2"
}

# promtool and prometheus come from Debian's prometheus package (2.42 on bookworm).
need_prometheus() {
  command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && return 0
  local before pid
  before=" $(pgrep -x prometheus | tr '\n' ' ' || true) "
  log "installing Debian package prometheus"
  apt_install prometheus
  # The package's postinst may start the system service: stop only what it started.
  for pid in $(pgrep -x prometheus || true); do
    case "$before" in *" $pid "*) ;; *) kill "$pid" 2>/dev/null || true ;; esac
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS [PID [CURL_ARG...]]: until URL answers 2xx; fails early if PID
# dies. CURL_ARGs (e.g. --cacert FILE -u USER:PASS) are passed to curl.
wait_http() {
  local url=$1 deadline=$((SECONDS + $2)) pid=${3:-}
  shift $(($# < 3 ? $# : 3))
  until curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited while waiting for $url"
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
