#!/usr/bin/env bash
# Installs the Debian packages ringfence needs to build, test and benchmark.
# Only what is missing is installed; `apt-get update` runs at most once.
set -euo pipefail
build_pkgs=(build-essential cmake ninja-build pkg-config libseccomp-dev libyaml-cpp-dev nlohmann-json3-dev
  libcli11-dev libc-ares-dev libgtest-dev libgmock-dev libbenchmark-dev lld libssl-dev)
test_pkgs=(curl python3 dbus-daemon util-linux iproute2 procps git tmux openssl gcc make tar checkpolicy semodule-utils selinux-policy-dev selinux-policy-default clang libclang-rt-14-dev python3-h11 python3-botocore python3-graphql-core
  podman runc catatonit busybox-static python3-yaml openjdk-17-jdk-headless openssh-client openssh-server)
extra=()
case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" bubblewrap firejail tinyproxy hyperfine gnuplot-nox
    nginx-light mitmproxy nghttp2-client) ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}" "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
