#!/usr/bin/env bash
# Adds every public symbol the build reports as untracked (RS0016) to PublicAPI.Unshipped.txt of its
# project. Run it after a deliberate public API change, then review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in src/*/; do
  file="$project/PublicAPI.Unshipped.txt"
  for _ in 1 2 3; do
    symbols=$(dotnet build "$project" --no-incremental 2>&1 | grep -oE "RS0016: Symbol '[^']*'" | sed -E "s/RS0016: Symbol '(.*)'/\1/" | sort -u || true)
    [ -n "$symbols" ] || break
    { cat "$file"; printf '%s\n' "$symbols"; } | { read -r header; echo "$header"; sort -u; } > "$file.tmp"
    mv "$file.tmp" "$file"
  done
done
