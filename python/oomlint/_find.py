"""Where the oomlint executable that this package installed is."""
import os
import sysconfig


def find_oomlint_bin() -> str:
    """The path of the oomlint executable installed with this package."""
    exe = "oomlint" + (sysconfig.get_config_var("EXE") or "")
    candidates = [sysconfig.get_path("scripts")]
    # pip install --user
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        candidates.append(sysconfig.get_path("scripts", scheme=user_scheme))
    # pip install --target DIR: the scripts land in DIR/bin, beside the package
    candidates.append(os.path.join(os.path.dirname(os.path.dirname(__file__)), "bin"))
    for folder in candidates:
        path = os.path.join(folder, exe)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(
        f"the oomlint executable is not in {', '.join(candidates)}; reinstall the oomlint wheel")
