"""CloudFormation's own checks of a stack's parameter values, before its Rules.

Usage: check_params.py TEMPLATE.json PARAMETERS.json

PARAMETERS.json maps each parameter to the value the stack receives. Prints a JSON list of the
problems CloudFormation would refuse the stack for, each naming the parameter: a parameter with
no value and no default, a value outside AllowedValues, one that does not match AllowedPattern
(the whole value; each item of a CommaDelimitedList), a Number outside MinValue/MaxValue or not
a number, and a name that is not a parameter of the template.
"""

import json
import re
import sys


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    declared = json.load(open(sys.argv[1], encoding="utf-8"))["Parameters"]
    given = json.load(open(sys.argv[2], encoding="utf-8"))
    problems = [f"{k}: not a parameter of the template" for k in given if k not in declared]
    for name, p in declared.items():
        if name not in given and "Default" not in p:
            problems.append(f"{name}: no value and no default")
            continue
        value = str(given.get(name, p.get("Default")))
        allowed = p.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            problems.append(f"{name}={value!r}: not one of {allowed}")
        pattern = p.get("AllowedPattern")
        if pattern is not None:
            items = value.split(",") if p["Type"] == "CommaDelimitedList" else [value]
            for item in items:
                if re.fullmatch(pattern, item) is None:
                    problems.append(f"{name}={item!r}: does not match {pattern}")
        if p["Type"] == "Number":
            try:
                number = float(value)
            except ValueError:
                problems.append(f"{name}={value!r}: not a number")
                continue
            if "MinValue" in p and number < float(p["MinValue"]):
                problems.append(f"{name}={value}: below {p['MinValue']}")
            if "MaxValue" in p and number > float(p["MaxValue"]):
                problems.append(f"{name}={value}: above {p['MaxValue']}")
    print(json.dumps(problems))


if __name__ == "__main__":
    main()
