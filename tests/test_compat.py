"""The package on every supported Python: no tomllib needed, an entry point, a version."""

import ast
import importlib.metadata
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pa3report
from pa3report import __version__, config

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

PROJECT = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.walk_packages(pa3report.__path__, "pa3report.")
                 if m.name != "pa3report.__main__")

# Python 3.10 has no tomllib: hide it, then import every module and parse a list.
WITHOUT_TOMLLIB = """
import sys
sys.modules["tomllib"] = None  # `import tomllib` now fails as on Python 3.10
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
from pa3report import config
assert config.tomllib.__name__ == "tomli", config.tomllib
assert config.parse_overrides(["epochs=3", "learn_rate=1e-3"]) == {"epochs": 3, "learn_rate": 0.001}
print("ok", len(sys.argv) - 1)
"""


def test_every_module_imports_without_tomllib():
    proc = subprocess.run([sys.executable, "-c", WITHOUT_TOMLLIB, *MODULES], capture_output=True, text=True,
                          cwd=PROJECT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ok", str(len(MODULES))]
    assert {"pa3report.config", "pa3report.cli", "pa3report.measurements.sweep",
            "pa3report.evidence.images"} <= set(MODULES)


def test_toml_errors_are_user_errors_with_either_parser(tmp_path):
    (tmp_path / "x.toml").write_text("[[experiment]\n")
    try:
        config.load_experiments(tmp_path)
    except config.UserError as exc:
        assert "TOML syntax error" in str(exc)
    else:
        raise AssertionError("a broken list must be refused")


def test_version_and_console_script(capsys):
    from pa3report import cli

    try:
        cli.main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"pa3report {__version__}"
    script = Path(sys.executable).parent / "pa3report"
    if script.is_file():  # installed with pip install -e . (as make does)
        proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and proc.stdout.strip() == f"pa3report {__version__}", proc.stderr


# Import names whose distribution is called otherwise, for packages not installed here.
DISTRIBUTION_OF = {"PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image",
                   "markdown_it": "markdown-it-py", "yaml": "pyyaml", "cv2": "opencv-python"}


def normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): case, `-`, `_` and `.` do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions(pyproject: Path) -> set[str]:
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return {normalized(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", dep).group()) for dep in deps}


def third_party_imports(package: Path) -> dict[str, str]:
    """Top-level modules the package's code imports that are neither its own nor the standard
    library's, each with the first place that imports it."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in (name.split(".")[0] for name in names):
                if top != package.name and top not in sys.stdlib_module_names:
                    found.setdefault(top, f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def undeclared_imports(package: Path, pyproject: Path) -> list[str]:
    """Imports of the package that no dependency of pyproject.toml provides."""
    declared = declared_distributions(pyproject)
    installed = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(third_party_imports(package).items()):
        dists = installed.get(module) or [DISTRIBUTION_OF.get(module, module)]
        if not declared & {normalized(d) for d in dists}:
            missing.append(f"{where}: imports {module} ({' or '.join(dists)}), not in pyproject's dependencies")
    return missing


def test_pyproject_declares_what_the_code_imports():
    imported = third_party_imports(PROJECT / "pa3report")
    assert {"torch", "numpy", "scipy", "sklearn", "PIL"} <= set(imported)  # the scan sees subpackages
    assert undeclared_imports(PROJECT / "pa3report", PROJECT / "pyproject.toml") == []
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"pa3report": "pa3report.cli:main"}


def test_an_undeclared_import_in_a_subpackage_is_caught(tmp_path):
    package = tmp_path / "pa3report"
    (package / "measurements").mkdir(parents=True)
    (package / "__init__.py").write_text("import json\nfrom . import measurements\n")
    (package / "measurements" / "fit.py").write_text(
        "import numpy as np\nfrom scipy import stats\nimport yaml\nfrom PIL import Image\nfrom ..x import y\n")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["NumPy>=1.24", "Pillow", '
                         '"tomli>=2.0; python_version < \'3.11\'"]\n')
    missing = undeclared_imports(package, pyproject)
    assert [line.split(": imports ")[1].split()[0] for line in missing] == ["scipy", "yaml"]
    assert missing[0].startswith("pa3report/measurements/fit.py:2: imports scipy")


def test_make_help_lists_every_target_and_option():
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    makefile = (PROJECT / "Makefile").read_text()
    targets = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    options = ["PA3_DATA", "PA3_BUILD", "QUICK", "LISTS", "JOBS", "EXP", "NAME", "SURNAME", "VENV",
               "SYSTEM_SITE", "PYTHON", "PIP_FLAGS"]
    for var in re.findall(r"^([A-Z_0-9]+) \?=", makefile, re.M):
        assert var in options, f"{var} is an option of the Makefile but not checked here"
    text = subprocess.run(["make", "-s", "-C", str(PROJECT), "help"], capture_output=True, text=True,
                          timeout=60).stdout
    for target in targets:
        assert f"make {target}" in text, target
    for option in options:
        assert f"{option}=" in text, option


def test_make_clean_cleans_the_build_folder_pa3_build_names(tmp_path):
    """`make clean PA3_BUILD=...` removes that folder's report, not build/'s, and keeps the runs."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    build = tmp_path / "my build"
    for folder in ("html", "figures", "runs"):
        (build / folder).mkdir(parents=True)
    (build / "report.json").write_text("{}")
    (build / "ada-lovelace-pa3.zip").write_bytes(b"")
    (build / "runs" / "kept.json").write_text("{}")
    subprocess.run(["make", "-s", "-C", str(PROJECT), "clean", f"PA3_BUILD={build}"], check=True,
                   capture_output=True, timeout=60)
    assert sorted(p.name for p in build.iterdir()) == ["runs"]
    assert (build / "runs" / "kept.json").is_file()


@pytest.mark.slow
def test_a_wheel_holds_every_subpackage(tmp_path):
    """`pip install .` (not only the editable install make uses) must ship measurements/ and evidence/."""
    import zipfile

    project = Path(pa3report.__file__).resolve().parents[1]
    source = tmp_path / "source"  # built from a copy: setuptools writes build/ where it builds
    shutil.copytree(project / "pa3report", source / "pa3report", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.txt"):
        shutil.copy(project / name, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"no wheel could be built here: {done.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("pa3report-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(source)).replace("\\", "/") for p in (source / "pa3report").rglob("*.py")}
    assert modules - names == set()
