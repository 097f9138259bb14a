"""Checks that `sam build` gave each function an arm64 (aarch64) Linux `bootstrap`.

Usage: check_bootstraps.py BUILD_DIR LOGICAL_ID...
"""

import os
import sys

EM_AARCH64 = 183


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    build, ids = sys.argv[1], sys.argv[2:]
    bad = []
    for logical_id in ids:
        path = os.path.join(build, logical_id, "bootstrap")
        try:
            with open(path, "rb") as f:
                header = f.read(20)
        except OSError as e:
            bad.append(f"{path}: {e.strerror}")
            continue
        machine = int.from_bytes(header[18:20], "little")
        if header[:4] != b"\x7fELF" or machine != EM_AARCH64:
            bad.append(f"{path}: not an arm64 ELF executable (e_machine {machine})")
            continue
        print(f"{logical_id}: arm64 bootstrap, {os.path.getsize(path) / 1e6:.1f} MB")
    if bad:
        raise SystemExit("sam build did not give four arm64 bootstraps:\n" + "\n".join(bad))


if __name__ == "__main__":
    main()
