"""Expands template.yaml's SAM resources into plain CloudFormation (aws-sam-translator, the
SAM CLI's own), offline: code locations become placeholder S3 URIs, as cfn-lint does."""
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

template = yaml_parse(open(sys.argv[1]).read())
for resource in template.get("Resources", {}).values():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://placeholder-bucket/code.zip"
print(json.dumps(transform(template, {}, NoManagedPolicies()), indent=1, default=str))
