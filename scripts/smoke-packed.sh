#!/usr/bin/env bash
# Smoke test of the packages as npm users get them: packs every published package (prepack builds
# them), then, from a directory outside the repository, with a PATH holding only node and npm (no
# compiler, no xz), installs the tarballs with `npm i -g --prefix P` and checks that
#   - `P/bin/bramble demo` shows four "would boot" (the sample .img.xz decoded by the wasm decoder),
#   - `P/bin/bramble tftp serve` serves a file that tftp-hpa fetches intact,
#   - @bramble/tftp's README example, run as written, serves and fetches its file,
#   - the CLI starts and the demo runs on the lowest Node version the packages claim (engines).
# npm installs the workspace packages from the local tarballs only; third-party dependencies of the
# library come from the npm registry. Set SMOKE_KEEP=1 to keep the work directory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/bramble-smoke-XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  if [ "${SMOKE_KEEP:-}" = 1 ]; then echo "smoke: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { echo "smoke: $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
started=$SECONDS

step "packing into $work/tgz"
t0=$SECONDS
mkdir -p "$work/tgz"
for dir in packages/logger packages/pi packages/manifest packages/eeprom packages/image packages/boot-tree packages/tftp packages/tftp-linux-x64-gnu packages/tftp-linux-arm64-gnu \
  packages/dhcp packages/virtual-pi apps/daemon apps/cli; do
  (cd "$repo/$dir" && pnpm pack --pack-destination "$work/tgz" >"$work/pack.log" 2>&1) || {
    cat "$work/pack.log" >&2
    fail "pnpm pack in $dir"
  }
done
step "packed in $((SECONDS - t0)) s"
tgz() { ls "$work/tgz/$1"-[0-9]*.tgz; }

# A PATH of symlinks to node, npm, sh (npm runs scripts with it) and the programs provisioning runs (cp for the tree clone,
# ssh-keygen/openssl for personalisation, python3 for the metadata helper): no cc, no xz.
mkdir -p "$work/bin"
node_bin=$(command -v node)
npm_cli=$(readlink -f "$(command -v npm)")
ln -s "$node_bin" "$work/bin/node"
ln -s "$npm_cli" "$work/bin/npm"
for program in sh cp ssh-keygen openssl python3; do
  found=$(command -v "$program") || fail "$program is not installed"
  ln -s "$found" "$work/bin/$program"
done
bare="$work/bin"
# Nothing from the caller's environment but HOME (its .npmrc: registry, CA file) and the proxy/CA
# settings needed to reach the registry.
passed_env=()
for name in HOME TMPDIR NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR \
  http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  if [ -n "${!name:-}" ]; then passed_env+=("$name=${!name}"); fi
done
run_bare() { env -i "${passed_env[@]}" PATH="$bare" npm_config_cache="$work/npm-cache" "$@"; }
mkdir -p "$work/out"
cd "$work/out"

# The prebuilt native pump of this platform (an optional dependency, on the registry once
# published) is given as a tarball too, as npm would pick it from the registry.
case "$(uname -m)" in x86_64) prebuilt=bramble-tftp-linux-x64-gnu ;; aarch64) prebuilt=bramble-tftp-linux-arm64-gnu ;; *) prebuilt= ;; esac
prebuilt_tgz=()
if [ -n "$prebuilt" ]; then prebuilt_tgz=("$(tgz "$prebuilt")"); fi

step "npm i -g --prefix P bramble (from the tarball)"
run_bare npm i -g --prefix "$work/P" --no-audit --no-fund --loglevel=error "$(tgz bramble)" "${prebuilt_tgz[@]}" ||
  fail "npm i -g bramble"
[ -x "$work/P/bin/bramble" ] || fail "no P/bin/bramble"
if run_bare sh -c 'command -v xz cc gcc' >/dev/null 2>&1; then fail "xz or a compiler is on the bare PATH"; fi

step "bramble demo (no xz on PATH: the wasm decoder)"
run_bare "$work/P/bin/bramble" demo >"$work/demo.log" 2>&1 || { cat "$work/demo.log" >&2; fail "bramble demo"; }
boots=$(grep -c 'would boot' "$work/demo.log" || true)
[ "$boots" -eq 4 ] || { cat "$work/demo.log" >&2; fail "demo: $boots 'would boot', expected 4"; }

step "bramble tftp serve, fetched by tftp-hpa"
tftp_hpa=$(command -v tftp) || fail "tftp-hpa (tftp) is not installed: scripts/install-peers.sh"
mkdir -p "$work/root"
head -c 1500000 /dev/urandom >"$work/root/kernel8.img"
port=$((20000 + RANDOM % 40000))
run_bare "$work/P/bin/bramble" tftp serve --root "$work/root" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server_pid=$!
fetched=
for _ in $(seq 1 50); do
  if "$tftp_hpa" 127.0.0.1 "$port" -m binary -c get kernel8.img "$work/kernel8.got" 2>/dev/null &&
    cmp -s "$work/root/kernel8.img" "$work/kernel8.got"; then
    fetched=1
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=
[ -n "$fetched" ] || { cat "$work/serve.log" >&2; fail "tftp-hpa did not fetch kernel8.img intact"; }
if [ -n "$prebuilt" ]; then
  grep -q '(native engine)' "$work/serve.log" || { cat "$work/serve.log" >&2; fail "bramble tftp serve: not the prebuilt native pump"; }
fi

step "@bramble/tftp README example in a fresh project"
mkdir -p "$work/embed"
cd "$work/embed"
printf '{ "name": "embed", "private": true, "type": "module" }\n' >package.json
run_bare npm i --no-audit --no-fund --loglevel=error "$(tgz bramble-tftp)" "$(tgz bramble-logger)" "${prebuilt_tgz[@]}" || fail "npm i @bramble/tftp"
# The first ```ts block of the installed package's README, as written.
awk '/^```ts$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' \
  node_modules/@bramble/tftp/README.md >example.mjs
[ -s example.mjs ] || fail "no example in @bramble/tftp's README"
run_bare node example.mjs >"$work/embed.log" 2>&1 || { cat "$work/embed.log" >&2; fail "README example"; }
grep -q '^2200000 2200000 ' "$work/embed.log" || { cat "$work/embed.log" >&2; fail "README example output"; }
grep -q 'got /start4.elf: 2200000 B' "$work/embed.log" || { cat "$work/embed.log" >&2; fail "README example: no complete event"; }
run_bare node -e "if (typeof require('@bramble/tftp').createServer !== 'function') process.exit(1)" ||
  fail "require('@bramble/tftp') from CommonJS (Node $(node --version))"
run_bare node --input-type=module -e \
  "import { nativePumpStatus } from '@bramble/tftp'; console.log('smoke: @bramble/tftp engine:', JSON.stringify(nativePumpStatus()))" |
  tee "$work/engine.log"
if [ -n "$prebuilt" ]; then grep -q '"engine":"native"' "$work/engine.log" || fail "@bramble/tftp: not the prebuilt native pump"; fi

# The lowest Node the packages claim (engines.node), from the registry's node-linux-* packages.
min=$(node -p "require('$repo/package.json').publishedEngines.node.replace(/^>=/, '')")
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch= ;; esac
if [ -n "$arch" ]; then
  step "Node $min: bramble --version and bramble demo"
  run_bare npm i --prefix "$work/node-min" --no-audit --no-fund --loglevel=error "node-linux-$arch@$min" ||
    fail "npm i node-linux-$arch@$min"
  mkdir -p "$work/bin-min"
  cp -P "$work/bin/"* "$work/bin-min/"
  rm "$work/bin-min/node"
  ln -s "$work/node-min/node_modules/node-linux-$arch/bin/node" "$work/bin-min/node"
  bare="$work/bin-min"
  [ "$(run_bare node --version)" = "v$min" ] || fail "node-linux-$arch@$min is not Node $min"
  run_bare "$work/P/bin/bramble" --version >/dev/null || fail "bramble --version on Node $min"
  run_bare "$work/P/bin/bramble" demo >"$work/demo-min.log" 2>&1 || { cat "$work/demo-min.log" >&2; fail "demo on Node $min"; }
  boots=$(grep -c 'would boot' "$work/demo-min.log" || true)
  [ "$boots" -eq 4 ] || { cat "$work/demo-min.log" >&2; fail "demo on Node $min: $boots 'would boot'"; }
else
  step "no node-linux package for $(uname -m): Node $min not checked"
fi

echo "smoke: packed tarballs install and run (demo x4, tftp serve, README example, Node $min) in $((SECONDS - started)) s"
