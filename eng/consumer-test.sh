#!/usr/bin/env bash
# Tests the packages as a user gets them. Packs all four (Release) into artifacts/packages, checks
# what they carry (eng/consumer-test/PackageChecks.cs), then creates a fresh `dotnet new web` app
# outside the repository that references Uploadista.Events by version from that folder, with the
# README's quick start as its Program.cs, as it is; runs it on a loopback port, and checks that a
# WebSocket on it receives the events its endpoint publishes. Then a fresh `dotnet new console` app,
# the README's worker example as its Program.cs, watches an upload on that app through
# Uploadista.Events.Client. eng/test.sh runs it, and so CI.
#
# The packages get a version of their own (<version>-ci.<time>), and the app restores into a packages
# folder of its own, with the machine's global one as a read-only fallback: the test never picks up
# an older build of the same version, and leaves nothing in the global packages folder.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

step() { echo; echo "== consumer test: $*"; }
fail() { echo "consumer test FAILED: $*" >&2; exit 1; }
trap 'echo "consumer test FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

work=$(mktemp -d "${TMPDIR:-/tmp}/uploadista-consumer.XXXXXX")
app_pid=""
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- Pack ---------------------------------------------------------------------------------------
base_version=$(dotnet msbuild src/Uploadista.Events -getProperty:Version)
version="$base_version-ci.$(date -u +%Y%m%d%H%M%S)"
packages="$repo/artifacts/packages"
step "packing $version into artifacts/packages"
rm -rf "$packages"
for project in src/Uploadista.Events.Contracts src/Uploadista.Events src/Uploadista.Events.Redis src/Uploadista.Events.Client; do
  dotnet pack "$project" -c Release -o "$packages" -p:Version="$version" -nologo -v:q -clp:NoSummary
done

# --- The quick start and the worker example, from the README ------------------------------------------
# The C# block right after a "consumer-test: <name>" marker comment, without its fences.
readme_block() {
  awk -v marker="<!-- consumer-test: $1" '
    index($0, marker) == 1 { found = 1; next }
    found && !inside && /^```csharp$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }
  ' README.md > "$2"
  [ -s "$2" ] || fail "README.md has no \`\`\`csharp block after a '<!-- consumer-test: $1' marker"
}
quick_start="$work/Program.cs"
readme_block Program.cs "$quick_start"
worker_example="$work/Worker.cs"
readme_block Worker.cs "$worker_example"

# --- Check the packages --------------------------------------------------------------------------
step "building the checker"
global_packages=$(dotnet nuget locals global-packages --list | sed -E 's/^global-packages: //')
export NUGET_PACKAGES="$work/nuget-packages"
cp -r eng/consumer-test "$work/check"
dotnet build "$work/check" -c Release -nologo -v:q -clp:NoSummary -o "$work/check/out"
check() { dotnet "$work/check/out/ConsumerCheck.dll" "$@"; }

step "checking the packages"
check packages "$packages" "$version" "$quick_start"

# --- A fresh app ---------------------------------------------------------------------------------
step "creating a fresh app with dotnet new web, outside the repository"
# The machine's own sources (from the user-level NuGet.Config) stay; the local folder is added.
cat > "$work/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="uploadista-local" value="$packages" />
  </packageSources>
  <fallbackPackageFolders>
    <add key="global-packages" value="$global_packages" />
  </fallbackPackageFolders>
</configuration>
EOF
dotnet new web -o "$work/app" -n ConsumerApp --no-update-check >/dev/null
cp "$quick_start" "$work/app/Program.cs"
# Uploadista.Events is what the quick start uses (it brings Uploadista.Events.Contracts);
# Uploadista.Events.Redis is referenced too, so that its dependencies (Uploadista.Events at the same
# version, StackExchange.Redis) restore from a feed.
dotnet add "$work/app" package Uploadista.Events --version "$version" --no-restore >/dev/null
dotnet add "$work/app" package Uploadista.Events.Redis --version "$version" --no-restore >/dev/null
grep -q "ProjectReference" "$work/app/ConsumerApp.csproj" && fail "the app must reference the packages, not the projects"

step "publishing the app (warnings as errors)"
# Published, as it is deployed: the package's static web assets (the browser client) are copied in.
dotnet publish "$work/app" -c Release -nologo -v:q -clp:NoSummary -warnaserror -o "$work/app/out"
ls "$NUGET_PACKAGES/uploadista.events/$version/uploadista.events.$version.nupkg" >/dev/null \
  || fail "Uploadista.Events $version was not restored from artifacts/packages"

# --- Run it --------------------------------------------------------------------------------------
step "running the app on 127.0.0.1"
# Port 0: Kestrel takes a free port and logs it, so no port is guessed and none can be taken meanwhile.
# Run from its publish folder, as a deployed app is: that is its content root, wwwroot included.
(cd "$work/app/out" && exec dotnet ConsumerApp.dll --urls http://127.0.0.1:0) > "$work/app.log" 2>&1 &
app_pid=$!
base_url=""
for _ in $(seq 1 300); do # up to 30 s
  base_url=$(grep -oE 'Now listening on: http://127\.0\.0\.1:[0-9]+' "$work/app.log" | head -n 1 | sed 's/^Now listening on: //' || true)
  [ -n "$base_url" ] && break
  kill -0 "$app_pid" 2>/dev/null || { cat "$work/app.log"; fail "the app exited before listening"; }
  sleep 0.1
done
[ -n "$base_url" ] || { cat "$work/app.log"; fail "the app did not say it was listening within 30 s"; }
echo "listening on $base_url"

step "a WebSocket on the app receives what its endpoint publishes"
check receive "$base_url" || { cat "$work/app.log"; fail "the WebSocket check failed"; }

step "the browser client is served from _content/, through the quick start's MapStaticAssets()"
# The module a page imports, and every module it imports in turn: one the package left out would
# break the client in the browser only.
modules=(uploadista-events.js)
served=()
while ((${#modules[@]})); do
  module=${modules[0]}
  modules=("${modules[@]:1}")
  [[ " ${served[*]} " == *" $module "* ]] && continue
  url="$base_url/_content/Uploadista.Events/$module"
  body=$(curl -fsS "$url") || fail "GET $url failed"
  grep -q "export" <<<"$body" || fail "$url is not an ES module"
  served+=("$module")
  modules+=($(grep -oE 'from "\./[A-Za-z0-9._-]+\.js"' <<<"$body" | sed -E 's/^from "\.\/(.*)"$/\1/' || true))
done
echo "ok: $base_url/_content/Uploadista.Events/ serves the browser client: ${served[*]}"

step "a fresh console app, the README's worker example, watches an upload on the app to its end"
dotnet new console -o "$work/worker" -n Worker --no-update-check >/dev/null
cp "$worker_example" "$work/worker/Program.cs"
dotnet add "$work/worker" package Uploadista.Events.Client --version "$version" --no-restore >/dev/null
dotnet publish "$work/worker" -c Release -nologo -v:q -clp:NoSummary -warnaserror -o "$work/worker/out"
grep -q "Microsoft.AspNetCore" "$work/worker/out/Worker.runtimeconfig.json" \
  && fail "the worker needs ASP.NET Core: Uploadista.Events.Client must not"
upload_id="worker-$(date +%s%N)"
curl -fsS -X PUT "$base_url/api/uploads/$upload_id" >/dev/null || fail "PUT /api/uploads/$upload_id failed"
# The upload happened before the worker connects: it gets the retained events (late join), then stops.
worker_output=$(timeout 60 dotnet "$work/worker/out/Worker.dll" "$base_url" "$upload_id") \
  || { echo "$worker_output"; fail "the worker did not end by itself within 60 s"; }
echo "$worker_output"
expected=$'1: UploadStartedEvent\n2: UploadProgressEvent\n3: UploadCompleteEvent\nStored at https://cdn.example.com/abc123/photo.jpg'
[ "$worker_output" = "$expected" ] || fail "the worker printed something else than: $expected"

kill "$app_pid"
wait "$app_pid" 2>/dev/null || true
app_pid=""
step "passed: the packages $version install from a folder into fresh apps; the quick start delivers, and the worker watches"
