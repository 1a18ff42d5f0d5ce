#!/usr/bin/env bash
# Builds herald as it is released: a static binary (CGO_ENABLED=0: no C
# library, no dynamic loader, so it runs on any Linux of its architecture,
# in a scratch or distroless image too), without the build machine's paths
# (-trimpath), stamped with its version, commit and build date, which
# `herald version` and `herald -v` print.
#
#   scripts/release.sh [OUTPUT]        # default dist/herald
#   GOOS=darwin GOARCH=arm64 scripts/release.sh dist/herald-darwin-arm64
#
# VERSION defaults to `git describe --tags` (dev without a tag), COMMIT to
# the checked-out commit (with -dirty when the tree has changes), and
# BUILD_DATE to the commit's time (or SOURCE_DATE_EPOCH), so that the same
# commit always builds the same bytes. -s -w leave out the symbol table and
# DWARF: stack traces keep their function names and lines.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-dist/herald}"
pkg=github.com/heraldhq/herald/internal/cli

git_ok=false
if git rev-parse --git-dir >/dev/null 2>&1; then git_ok=true; fi

if [ -z "${VERSION:-}" ]; then
  VERSION=dev
  if $git_ok; then VERSION="$(git describe --tags --dirty 2>/dev/null || echo dev)"; fi
fi
if [ -z "${COMMIT:-}" ]; then
  COMMIT=unknown
  if $git_ok; then
    COMMIT="$(git rev-parse HEAD)"
    if [ -n "$(git status --porcelain --untracked-files=no)" ]; then COMMIT="$COMMIT-dirty"; fi
  fi
fi
if [ -z "${BUILD_DATE:-}" ]; then
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    BUILD_DATE="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
  elif $git_ok; then
    BUILD_DATE="$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)"
  else
    BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  fi
fi

mkdir -p "$(dirname "$out")"
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X $pkg.Version=$VERSION -X $pkg.Commit=$COMMIT -X $pkg.Date=$BUILD_DATE" \
  -o "$out" ./cmd/herald
echo "built $out: herald $VERSION (commit $COMMIT, built $BUILD_DATE)"
