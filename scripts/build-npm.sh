#!/usr/bin/env bash
# Builds the npm package `kubevirt-instancetype` (`make npm`):
#   1. the library for wasm32-unknown-unknown with the size-tuned `npm-release` profile (opt-level z, LTO,
#      one codegen unit);
#   2. wasm-bindgen's glue for three targets, into one package directory: bundler/ (ESM importing
#      the .wasm, for webpack/Vite), web/ (ESM with an explicit `init()`), node/ (CommonJS);
#   3. `wasm-opt -Oz --converge` (binaryen from npm/, pinned in npm/package-lock.json);
#   4. package.json (version from Cargo.toml), README, LICENSE; `npm pack`.
# Output: $NPM_OUT/kubevirt-instancetype/ and $NPM_OUT/kubevirt-instancetype-<version>.tgz
# (NPM_OUT defaults to target/npm), and $NPM_OUT/sizes.txt with the .wasm sizes.
# Needs what scripts/install-tools.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

log() { printf '[build-npm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

CARGO="${CARGO:-cargo}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
NPM_OUT="${NPM_OUT:-$ROOT/target/npm}"
PKG="$NPM_OUT/kubevirt-instancetype"
NAME=kubevirt_instancetype

# The crate version is the package version; wasm-bindgen's CLI must match the crate exactly.
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[[ -n "$VERSION" ]] || die "no version in Cargo.toml"
BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[[ -n "$BINDGEN_VERSION" ]] || die "wasm-bindgen is not in Cargo.lock"
command -v wasm-bindgen >/dev/null || die "wasm-bindgen is missing: run scripts/install-tools.sh"
INSTALLED="$(wasm-bindgen --version | awk '{print $2}')"
[[ "$INSTALLED" == "$BINDGEN_VERSION" ]] \
    || die "wasm-bindgen CLI $INSTALLED does not match the crate's $BINDGEN_VERSION: run scripts/install-tools.sh"
WASM_OPT="$ROOT/npm/node_modules/.bin/wasm-opt"
[[ -x "$WASM_OPT" ]] || die "wasm-opt is missing (npm/node_modules): run scripts/install-tools.sh"

log "cargo build (wasm32-unknown-unknown, profile npm-release)"
"$CARGO" build --quiet --target wasm32-unknown-unknown --profile npm-release --lib
WASM="$TARGET_DIR/wasm32-unknown-unknown/npm-release/$NAME.wasm"
[[ -f "$WASM" ]] || die "$WASM was not built"

rm -rf "$PKG"
mkdir -p "$PKG"
for target in bundler web nodejs; do
    dir="$target"; [[ "$target" == nodejs ]] && dir=node
    log "wasm-bindgen --target $target"
    wasm-bindgen --target "$target" --out-dir "$PKG/$dir" --out-name "$NAME" "$WASM"
    rm -f "$PKG/$dir/${NAME}_bg.wasm.d.ts"   # declares the raw wasm exports: internal, not API
done
# ESM for the bundler and web builds, CommonJS for the Node build, whatever the importer.
printf '{\n  "type": "module"\n}\n' >"$PKG/bundler/package.json"
printf '{\n  "type": "module"\n}\n' >"$PKG/web/package.json"
printf '{\n  "type": "commonjs"\n}\n' >"$PKG/node/package.json"

# The three targets get the same module (checked); optimize once, copy to all.
for dir in web node; do
    cmp -s "$PKG/bundler/${NAME}_bg.wasm" "$PKG/$dir/${NAME}_bg.wasm" \
        || die "wasm-bindgen wrote different modules for bundler and $dir"
done
RAW_BINDGEN="$(stat -c %s "$PKG/bundler/${NAME}_bg.wasm")"
log "wasm-opt -Oz --converge"
# Rust's wasm32 target enables these features by default; wasm-opt must accept them. `--converge`
# repeats the passes while the module still shrinks (1.1 kB gzipped smaller than one round, measured).
"$WASM_OPT" -Oz --converge \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$PKG/bundler/${NAME}_bg.wasm" -o "$NPM_OUT/${NAME}_bg.opt.wasm"
for dir in bundler web node; do
    cp "$NPM_OUT/${NAME}_bg.opt.wasm" "$PKG/$dir/${NAME}_bg.wasm"
done
rm -f "$NPM_OUT/${NAME}_bg.opt.wasm"

log "package.json, README.md, LICENSE"
node -e '
    const fs = require("fs");
    const [template, out, version] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(template, "utf8"));
    pkg.version = version;
    fs.writeFileSync(out, JSON.stringify(pkg, null, 2) + "\n");
' "npm/package/package.json" "$PKG/package.json" "$VERSION"
RAW="$(stat -c %s "$PKG/web/${NAME}_bg.wasm")"
GZIP="$(gzip -9 -c "$PKG/web/${NAME}_bg.wasm" | wc -c)"
kib() { awk -v bytes="$1" 'BEGIN { printf "%.0f KiB", bytes / 1024 }'; }
# The shipped README states the sizes of the .wasm it ships.
sed "s/{{WASM_SIZE}}/$(kib "$RAW") ($RAW bytes), $(kib "$GZIP") gzipped ($GZIP bytes, gzip -9)/" \
    npm/package/README.md >"$PKG/README.md"
if grep -q '{{' "$PKG/README.md"; then die "a placeholder is left in README.md"; fi
cp LICENSE "$PKG/LICENSE"

{
    echo "wasm-bindgen output: $RAW_BINDGEN bytes"
    echo "after wasm-opt -Oz --converge: $RAW bytes raw, $GZIP bytes gzip -9"
} | tee "$NPM_OUT/sizes.txt" >&2

log "npm pack"
rm -f "$NPM_OUT/kubevirt-instancetype-$VERSION.tgz"
(cd "$NPM_OUT" && npm pack --silent "$PKG" >/dev/null)
[[ -f "$NPM_OUT/kubevirt-instancetype-$VERSION.tgz" ]] || die "npm pack wrote no tarball"
log "done: $NPM_OUT/kubevirt-instancetype-$VERSION.tgz ($(stat -c %s "$NPM_OUT/kubevirt-instancetype-$VERSION.tgz") bytes)"
