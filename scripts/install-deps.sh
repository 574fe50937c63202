#!/usr/bin/env bash
# Installs the Debian packages Regulars builds, runs and tests with.
# Idempotent and quiet: when everything is present it prints nothing and exits 0.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libpq-dev postgresql-15
  libphonenumber-dev libprotobuf-dev libboost-dev libicu-dev libopencc-dev opencc
  libhowardhinnant-date-dev libsodium-dev libssl-dev libcurl4-openssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  chromium fonts-noto-cjk wrk procps
  zlib1g-dev clang-16 libclang-rt-16-dev
  libnlopt-dev
  libroaring-dev libkainjow-mustache-dev libxlsxwriter-dev python3-aiosmtpd postfix unzip
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh machine.
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The console's JavaScript dependencies (Vite, Vue, Playwright driver).
if [ -f web/package.json ]; then
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    echo "install-deps: npm ci in web/"
    (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
