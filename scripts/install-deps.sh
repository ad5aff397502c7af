#!/usr/bin/env bash
# Installs the Debian 12 packages gridshift builds against (LAYOUT.md), and nothing else.
# Idempotent: when every package is already present it only asks dpkg and exits in well under a second.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libboost1.81-dev        # Asio, Beast, system::result (header-only parts of Boost 1.81)
  libssl-dev              # OpenSSL
  nlohmann-json3-dev
  libsqlite3-dev sqlite3
  libpq-dev               # PostgreSQL client library: storage type postgres (storage/postgres/)
  postgresql-15           # the server the tests start throwaway clusters of (initdb, pg_ctl)
  libyaml-cpp-dev
  libspdlog-dev libfmt-dev
  libcli11-dev
  libsystemd-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  systemd                 # systemd-analyze verify/security on the units (tests)
  man-db                  # systemd-analyze verify checks the units' man: Documentation= links
  dpkg-dev                # dpkg-shlibdeps: CPack computes the .deb's Depends (tests, packaging)
  prometheus              # promtool check metrics on /metrics (tests)
  clang libclang-rt-14-dev # libFuzzer and clang's sanitizers: the fuzz targets (fuzz/, tests)
  chromium                # renders `gridshift report --html` headless to a PNG (tests)
  zlib1g-dev              # reads that PNG back (tests/support/png.h)
  python3                 # runs the example trainer and examples/jobs/local-command.yaml (tests)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
