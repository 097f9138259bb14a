"""The parameters `sam deploy` sends for a command line, resolved by the SAM CLI's own code.

Usage: sam_params.py SAM_DIR CONFIG_ENV [--parameter-overrides TOKEN...]

Runs in SAM_DIR (where `sam deploy` runs, so `file://` paths resolve as they do for a user) and
prints JSON: {"from": "command line" | "samconfig.toml", "parameters": {name: value}}.

The precedence is the SAM CLI's: a `--parameter-overrides` given on the command line replaces
samconfig.toml's `parameter_overrides` whole (click's default_map gives the file's value only to
an option the command line leaves out); the tokens after it are parsed by the CLI's own option
type (CfnParameterOverridesType: `Key=Value` pairs and `file://` YAML or JSON files, later ones
winning). What the stack then receives for a parameter left out is SAM's too
(DeployContext.merge_parameters): its default on a new stack, its previous value on an update;
the caller applies that.
"""

import json
import os
import sys

from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    sam_dir, env, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.chdir(sam_dir)
    if rest:
        if rest[0] != "--parameter-overrides" or len(rest) < 2:
            raise SystemExit(f"expected --parameter-overrides TOKEN..., got {rest}")
        source, value = "command line", tuple(rest[1:])
    else:
        config = SamConfig(config_dir=".", filename="samconfig.toml")
        deploy = config.get_all(["deploy"], "parameters", env=env) or {}
        if "parameter_overrides" not in deploy:
            raise SystemExit(f"samconfig.toml has no [{env}.deploy.parameters] parameter_overrides")
        source, value = "samconfig.toml", deploy["parameter_overrides"]
    parameters = CfnParameterOverridesType().convert(value, None, None)
    print(json.dumps({"from": source, "parameters": parameters}, sort_keys=True))


if __name__ == "__main__":
    main()
