"""Builds the oomlint wheel (see pyproject.toml): the `oomlint` executable as the wheel's script,
the rule pages as package data, a platform tag, and the version from CMakeLists.txt.

The executable comes from OOMLINT_WHEEL_BINARY when set (a binary built already, e.g. by the test
suite), else from a CMake build in build-wheel/: Release, static, libgit2 linked in
(OOMLINT_LIBGIT2_STATIC), so it needs no shared library at run time. It is stripped on the way.
"""
import os
import re
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py as _build_py
from distutils.command.build_scripts import build_scripts as _build_scripts  # setuptools vendors it
from wheel.bdist_wheel import bdist_wheel as _bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(HERE, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(oomlint\s+VERSION\s+([0-9][0-9.]*)", f.read())
    if not m:
        sys.exit("setup.py: no `project(oomlint VERSION x.y.z)` in CMakeLists.txt")
    return m.group(1)


def binary_path():
    given = os.environ.get("OOMLINT_WHEEL_BINARY")
    if given:
        return os.path.abspath(given)
    return os.path.join(HERE, "build-wheel", "server", "oomlint")


def build_binary():
    """Builds build-wheel/server/oomlint with CMake unless OOMLINT_WHEEL_BINARY names one."""
    path = binary_path()
    if os.environ.get("OOMLINT_WHEEL_BINARY"):
        if not os.access(path, os.X_OK):
            sys.exit(f"setup.py: OOMLINT_WHEEL_BINARY={path} is not an executable")
        return path
    build = os.path.join(HERE, "build-wheel")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.check_call(["cmake", "-S", HERE, "-B", build, *generator,
                           "-DCMAKE_BUILD_TYPE=Release", "-DOOMLINT_BUILD_TESTS=OFF",
                           "-DOOMLINT_STATIC=ON", "-DOOMLINT_LIBGIT2_STATIC=ON"])
    jobs = os.environ.get("OOMLINT_WHEEL_JOBS", str(os.cpu_count() or 1))
    subprocess.check_call(["cmake", "--build", build, "--target", "oomlint", "-j", jobs])
    return path


class build_scripts(_build_scripts):
    """Copies the executable as it is (the stock command reads scripts as text, for shebangs)."""

    def run(self):
        src = build_binary()
        self.mkpath(self.build_dir)
        dst = os.path.join(self.build_dir, "oomlint")
        self.copy_file(src, dst, preserve_mode=False)
        strip = shutil.which("strip")
        if strip:
            subprocess.check_call([strip, "--strip-unneeded", dst])
        os.chmod(dst, 0o755)


class build_py(_build_py):
    """Adds the rule pages (docs/rules/*.md) and the guide's (docs/guide/*.md) to the package as
    oomlint/docs/rules/ and oomlint/docs/guide/: the binary's links point there (checks/doc_links.h)."""

    def run(self):
        super().run()
        for part in ("rules", "guide"):
            pages = os.path.join(HERE, "docs", part)
            out = os.path.join(self.build_lib, "oomlint", "docs", part)
            self.mkpath(out)
            for name in sorted(os.listdir(pages)):
                if name.endswith(".md"):
                    self.copy_file(os.path.join(pages, name), os.path.join(out, name))


class BinaryDistribution(Distribution):
    """Carries a native executable: the package goes to platlib and the wheel is not pure."""

    def has_ext_modules(self):
        return True


class bdist_wheel(_bdist_wheel):
    """A platform wheel for any Python 3: py3-none-<platform> (linux_x86_64 here; not manylinux,
    see README.md)."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


WORK = os.path.join("build-wheel", "setuptools")
os.makedirs(os.path.join(HERE, WORK), exist_ok=True)

setup(
    version=version(),
    package_dir={"": "python"},
    packages=["oomlint"],
    distclass=BinaryDistribution,
    # setuptools' own work folders, away from CMake's build/ (tools/setup.sh)
    options={"build": {"build_base": WORK}, "egg_info": {"egg_base": WORK}},
    # What build_scripts above installs as bin/oomlint (it takes binary_path(), built or given).
    scripts=["build-wheel/server/oomlint"],
    cmdclass={"build_scripts": build_scripts, "build_py": build_py, "bdist_wheel": bdist_wheel},
)
