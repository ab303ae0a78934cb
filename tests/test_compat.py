"""The package on every supported Python: no tomllib needed, an entry point, a version."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pa3report
from pa3report import __version__, config

PROJECT = Path(__file__).resolve().parents[1]
MODULES = sorted(f"pa3report.{m.name}" for m in pkgutil.iter_modules(pa3report.__path__) if m.name != "__main__")

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
    assert "pa3report.config" in MODULES and "pa3report.cli" in MODULES


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


def test_pyproject_declares_what_the_code_imports():
    try:
        import tomllib
    except ImportError:
        import tomli as tomllib
    deps = " ".join(tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["dependencies"]).lower()
    for package in ("torch", "torchvision", "numpy", "pandas", "matplotlib", "jinja2", "markupsafe",
                    "markdown-it-py", "tqdm", "scikit-learn", "scikit-image", "pillow", "filelock", "tomli"):
        assert package in deps, package
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"pa3report": "pa3report.cli:main"}


def test_make_help_lists_every_target_and_option():
    import re
    import shutil

    if not shutil.which("make"):
        return
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
    import shutil

    if not shutil.which("make"):
        return
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
