"""Translate sam/template.yaml into plain CloudFormation JSON, offline, with the SAM translator.

Usage: translate.py TEMPLATE OUT.json [CODE_URI]

A template without the SAM transform (sam/spoke.yaml) is only read (its short-form tags become
the long form) and written as JSON.

The functions' local CodeUri is replaced by CODE_URI (an s3:// URI; default
s3://autopilot-artifacts/functions.zip), as `sam package` would, since the translator only accepts
an S3 location. No AWS call is made: the template names no managed policy that would need looking up.
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The translator asks for managed policy ARNs only for policies given by name; the template
    gives none, so a lookup here is a mistake worth stopping on."""

    def load(self):
        raise SystemExit("the template names a managed policy by name: give its ARN instead")


def main() -> None:
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    source, out = sys.argv[1], sys.argv[2]
    code_uri = sys.argv[3] if len(sys.argv) == 4 else "s3://autopilot-artifacts/functions.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    if "Transform" not in template:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(template, f, indent=1, sort_keys=True)
        return
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = code_uri
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.get("Properties", {}).pop("CodeUri", None)
    translated = transform(template, {}, NoManagedPolicies())
    with open(out, "w", encoding="utf-8") as f:
        json.dump(translated, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
