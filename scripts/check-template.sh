#!/usr/bin/env bash
# `make lint`: template.yaml checked without an AWS account. cfn-lint and `sam validate --lint`
# on the SAM template; aws-sam-translator (the SAM CLI's own) expands it into the plain
# CloudFormation AWS would deploy, and cfn-lint checks that too; checkov scans both with the
# checks that do not apply listed, with reasons, in .checkov.yaml: any other finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/venv
CHECKOV=.tools/checkov-venv/bin/checkov
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

"$VENV/bin/cfn-lint" template.yaml
"$VENV/bin/sam" validate --lint --template template.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VENV/bin/python" scripts/expand_sam.py template.yaml >"$work/expanded.json" 2>"$work/expand.log" \
  || { cat "$work/expand.log" >&2; exit 1; }
# W2001: the translator writes parameters it resolved (DeploymentType) into the resources.
"$VENV/bin/cfn-lint" --ignore-checks W2001 -- "$work/expanded.json"
"$CHECKOV" --config-file .checkov.yaml --file template.yaml --file "$work/expanded.json"
# The example deploy parameters, filled in, pass `make deploy`'s checks against this template.
sed -e 's/123456789012/210987654321/' \
    -e 's/REPLACE-WITH-THE-PUBLIC-KEY/11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo/' \
    deploy/parameters.example.yaml >"$work/parameters.yaml"
PARAMS="$work/parameters.yaml" DRY_RUN=1 scripts/deploy.sh >/dev/null
echo "template: cfn-lint, sam validate, expanded cfn-lint, checkov and the deploy parameters clean"
