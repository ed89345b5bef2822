#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages (apt-get).
# Packages already present are not fetched again, so a prepared machine needs
# no network at all.
set -euo pipefail

PACKAGES=(
  build-essential g++ cmake ninja-build pkg-config
  nlohmann-json3-dev   # JSON: config.json, safetensors headers, tokenizer.json, the HTTP API
  libcli11-dev         # command-line parsing for every dsinfer subcommand
  libpcre2-dev         # Unicode regex engine (JIT) for the tokenizers' pre-tokenizer patterns
  libgtest-dev         # unit and integration tests
  libbenchmark-dev     # micro-benchmarks (kernels, tokenizer throughput)
  libcpp-httplib-dev   # HTTP server (dsinfer serve) and client (hub downloads)
  libssl-dev           # HTTPS for the hub client
  libhwy-dev           # Highway: runtime SIMD dispatch for the CPU kernels
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
