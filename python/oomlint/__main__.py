"""`python -m oomlint ARGS...` runs the oomlint executable with ARGS (as Ruff's package does)."""
import os
import sys

from oomlint._find import find_oomlint_bin


def main() -> None:
    try:
        path = find_oomlint_bin()
    except FileNotFoundError as e:
        print(f"oomlint: {e}", file=sys.stderr)
        sys.exit(2)
    if sys.platform == "win32":  # pragma: no cover - the wheel is built for Linux
        import subprocess
        sys.exit(subprocess.call([path, *sys.argv[1:]]))
    os.execv(path, [path, *sys.argv[1:]])


if __name__ == "__main__":
    main()
