#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the project needs, only those that are missing.
#   scripts/system-deps.sh run    broker and InfluxDB for `make run`
#   scripts/system-deps.sh test   + VictoriaMetrics, Chromium, PostgreSQL for `make test`
set -euo pipefail
mode="${1:-run}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
need() { # need PACKAGE COMMAND...: the package is missing if none of the commands exists
  local pkg="$1"; shift
  for cmd in "$@"; do
    if command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ]; then return 0; fi
  done
  missing+=("$pkg")
}

need_lib() { # need_lib PACKAGE SONAME: the package is missing if the shared library is not known
  if ! /sbin/ldconfig -p 2>/dev/null | grep -q "$2"; then missing+=("$1"); fi
}

py="${PYTHON:-python3}"
if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then missing+=(python3-venv); fi
need mosquitto mosquitto /usr/sbin/mosquitto
need mosquitto-clients mosquitto_pub
need influxdb influxd /usr/bin/influxd
# WeasyPrint renders the monthly report PDFs with Pango and HarfBuzz, in DejaVu fonts
need_lib libpango-1.0-0 libpango-1.0.so.0
need_lib libpangoft2-1.0-0 libpangoft2-1.0.so.0
need_lib libharfbuzz-subset0 libharfbuzz-subset.so.0
if [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then missing+=(fonts-dejavu-core); fi
# npm installs the front-end libraries (uPlot, Socket.IO client) into static/vendor
need nodejs node
need npm npm
if [ "$mode" = "test" ]; then
  need victoria-metrics victoria-metrics /usr/bin/victoria-metrics
  need chromium chromium /usr/bin/chromium
  # QR stickers are checked by rendering their PDF to PNG and decoding the codes back
  need poppler-utils pdftoppm
  need zbar-tools zbarimg
  # PostgreSQL: the tests use a server on 127.0.0.1:5432 if one answers, else start their own.
  if ! (command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432) \
     && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
  fi
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps package scripts from starting system-wide daemons we do not use
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
