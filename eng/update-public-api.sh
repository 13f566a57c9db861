#!/usr/bin/env bash
# Brings PublicAPI.Unshipped.txt of each shipped project in line with its public API: adds the symbols
# the build reports as untracked (RS0016) and removes the ones it no longer finds (RS0017). Run it after
# a deliberate public API change, then review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in src/*/; do
  file="$project/PublicAPI.Unshipped.txt"
  for _ in 1 2 3; do
    # Only this project's diagnostics: building it also builds (and reports) its references.
    output=$(dotnet build "$project" --no-incremental 2>&1 | grep -F "$(realpath "$project")/" || true)
    added=$(grep -oE "RS0016: Symbol '[^']*'" <<<"$output" | sed -E "s/RS0016: Symbol '(.*)'/\1/" | sort -u || true)
    removed=$(grep -oE "RS0017: Symbol '[^']*'" <<<"$output" | sed -E "s/RS0017: Symbol '(.*)'/\1/" | sort -u || true)
    [ -n "$added$removed" ] || break
    {
      head -n 1 "$file"
      { tail -n +2 "$file"; [ -z "$added" ] || printf '%s\n' "$added"; } | grep -vxF -f <(printf '%s\n' "${removed:-\$never}") | sort -u
    } > "$file.tmp"
    mv "$file.tmp" "$file"
  done
done
