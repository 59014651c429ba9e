#!/usr/bin/env bash
# Creates clients/python/.venv if missing, installs the pinned test extras (again only when
# pyproject.toml changed), and (re)installs this package into it from the working tree.
# Used by run-tests.sh and generate.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.installed-pyproject"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || ! cmp -s "$here/pyproject.toml" "$stamp"; then
  "${pip[@]}" install "$here[test]"
  cp "$here/pyproject.toml" "$stamp"
fi
# A regular (non-editable) install, so the tests use the package as users get it. setuptools
# reuses build/, which would keep deleted modules: start clean.
rm -rf "$here/build" "$here"/src/*.egg-info
"${pip[@]}" install --no-deps --force-reinstall "$here"
rm -rf "$here/build" "$here"/src/*.egg-info
