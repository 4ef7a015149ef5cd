#!/usr/bin/env bash
# Fetch MathJax 3 from the npm registry into book/_static/mathjax/ so that the
# built book renders equations without contacting a CDN.
#
# Usage: scripts/fetch_mathjax.sh            (from anywhere inside the repository)
#        MATHJAX_VERSION=3.2.2 scripts/fetch_mathjax.sh
#
# The result is a build product (gitignored). The script does nothing if the
# requested version is already in place, and stops with an error on any failure.
set -euo pipefail

MATHJAX_VERSION="${MATHJAX_VERSION:-3.2.2}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${REPO_ROOT}/book/_static/mathjax"
STAMP="${DEST}/.mathjax-version"
ENTRY="tex-svg.js"   # the component named by mathjax_path in _config.yml

fail() { echo "fetch_mathjax.sh: error: $*" >&2; exit 1; }

if [[ -f "${STAMP}" && -f "${DEST}/${ENTRY}" && "$(cat "${STAMP}")" == "${MATHJAX_VERSION}" ]]; then
    echo "MathJax ${MATHJAX_VERSION} already present in ${DEST}"
    exit 0
fi

command -v npm >/dev/null 2>&1 || fail "npm not found; install Node.js/npm (needed only to download MathJax)"
command -v tar >/dev/null 2>&1 || fail "tar not found"

WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

echo "Downloading mathjax@${MATHJAX_VERSION} from the npm registry ..."
( cd "${WORK}" && npm pack --loglevel=error "mathjax@${MATHJAX_VERSION}" >"${WORK}/pack.out" ) \
    || fail "npm pack mathjax@${MATHJAX_VERSION} failed"
TARBALL="${WORK}/$(tail -n 1 "${WORK}/pack.out")"
[[ -f "${TARBALL}" ]] || fail "npm pack did not produce a tarball (got: $(cat "${WORK}/pack.out"))"

mkdir -p "${WORK}/x"
tar -xzf "${TARBALL}" -C "${WORK}/x" || fail "could not extract ${TARBALL}"
SRC="${WORK}/x/package/es5"
[[ -f "${SRC}/${ENTRY}" ]] || fail "${ENTRY} missing from the mathjax@${MATHJAX_VERSION} package"

# Replace any partial or older copy atomically enough for a build directory.
rm -rf "${DEST}.tmp"
mkdir -p "$(dirname "${DEST}")"
cp -R "${SRC}" "${DEST}.tmp"
cp "${WORK}/x/package/LICENSE" "${DEST}.tmp/LICENSE" 2>/dev/null || true
echo "${MATHJAX_VERSION}" >"${DEST}.tmp/.mathjax-version"
rm -rf "${DEST}"
mv "${DEST}.tmp" "${DEST}"

echo "MathJax ${MATHJAX_VERSION} installed in ${DEST}"
