#!/usr/bin/env bash
# `make deploy`: build every function for Lambda and deploy the stack without a single prompt.
# Settings in samconfig.toml (stack name, capabilities, S3 bucket for artifacts), parameters in
# deploy/parameters.yaml (PARAMS=... for another file), AWS credentials and region from the
# standard AWS environment. DRY_RUN=1 checks the parameters and prints what it would run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/venv
PARAMS="${PARAMS:-deploy/parameters.yaml}"
fail() { echo "deploy: $*" >&2; exit 1; }

[[ -f "$PARAMS" ]] || fail "no $PARAMS: copy deploy/parameters.example.yaml there and fill it in"

# Every key must be a parameter of template.yaml (a typo would be ignored by CloudFormation),
# the required ones must be there, and nothing may be left as the example's placeholder.
"$VENV/bin/python" - "$PARAMS" <<'PY' || fail "fix $PARAMS"
import re, sys, yaml
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open("template.yaml").read())["Parameters"]
given = yaml.safe_load(open(sys.argv[1])) or {}
problems = []
for key, value in given.items():
    spec = template.get(key)
    if spec is None:
        problems.append(f"{key}: not a parameter of template.yaml")
        continue
    text = str(value)
    if "REPLACE" in text or "123456789012" in text:
        problems.append(f"{key}: still the example's placeholder")
    if "AllowedValues" in spec and text not in [str(v) for v in spec["AllowedValues"]]:
        problems.append(f"{key}: {text!r} is not one of {spec['AllowedValues']}")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], text):
        problems.append(f"{key}: {text!r} does not match {spec['AllowedPattern']}")
    if spec.get("Type") == "Number":
        n = float(text)
        if "MinValue" in spec and n < float(spec["MinValue"]):
            problems.append(f"{key}: {text} is below {spec['MinValue']}")
        if "MaxValue" in spec and n > float(spec["MaxValue"]):
            problems.append(f"{key}: {text} is above {spec['MaxValue']}")
for key, spec in template.items():
    if "Default" not in spec and key not in given:
        problems.append(f"{key}: required (no default)")
for p in problems:
    print(f"  {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# The Rust standard library for the Lambda target (arm64).
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  [[ -n "${DRY_RUN:-}" ]] || rustup target add aarch64-unknown-linux-gnu
fi
build=("$VENV/bin/sam" build --template template.yaml)
deploy=("$VENV/bin/sam" deploy --parameter-overrides "file://$PARAMS")
if [[ -n "${DRY_RUN:-}" ]]; then
  echo "deploy: $PARAMS is complete; would run:"
  echo "  ${build[*]}"
  echo "  ${deploy[*]}"
  exit 0
fi
"${build[@]}"
"${deploy[@]}"
"$VENV/bin/sam" list stack-outputs --output table || true
