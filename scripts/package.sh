#!/usr/bin/env bash
# `make package`: build every function (or the ones named) for Lambda with `sam build`
# (BuildMethod rust-cargolambda: cargo-lambda cross-compiles to arm64 with zig, both from the
# pinned virtualenv in .tools/), then report each artifact's size, stripped and zipped as Lambda
# takes it.
#   scripts/package.sh                           all functions
#   scripts/package.sh GetUserSessionsFunction   one (logical id from template.yaml), built
#                                                into .aws-sam/measure, never deployed
set -euo pipefail
cd "$(dirname "$0")/.."

# The Rust standard library for the Lambda target (template.yaml: Architectures arm64).
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
# Some functions only (for measuring them) build elsewhere: `sam deploy` reads .aws-sam/build,
# and a partial build there would ship the whole checkout as the others' code.
build_dir=.aws-sam/build
[[ $# -gt 0 ]] && build_dir=.aws-sam/measure
sam build --template template.yaml --build-dir "$build_dir" "$@"

BUILD_DIR="$build_dir" python3 - <<'PY'
import io, os, zipfile
root = os.environ["BUILD_DIR"]
rows = []
for name in sorted(os.listdir(root)):
    path = os.path.join(root, name, "bootstrap")
    if not os.path.isfile(path):
        continue
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    rows.append((name, os.path.getsize(path), len(buf.getvalue())))
print(f"{'function':34} {'bootstrap':>12} {'zipped':>12}")
for name, raw, zipped in rows:
    print(f"{name:34} {raw/1e6:>10.2f} MB {zipped/1e6:>10.2f} MB")
PY
