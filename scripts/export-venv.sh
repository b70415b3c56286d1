#!/usr/bin/env bash
# The Python checkers the export tests run (crates/export/tests): suricata-check (the Suricata
# rule) and stix2-validator (the STIX bundle), from PyPI into target/export-venv, once.
# Without python3/venv/PyPI it fails (exit 2) saying so; the tests then fail, not skip.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/.."
VENV="$(pwd)/target/export-venv"
PACKAGES=("suricata-check" "stix2-validator")

if [ -x "$VENV/bin/suricata-check" ] && [ -x "$VENV/bin/stix2_validator" ]; then
  exit 0
fi
python3 -m venv "$VENV" || { echo "export-venv: FAILED: python3 -m venv (apt-get install python3-venv)" >&2; exit 2; }
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" \
  || { echo "export-venv: FAILED: pip install ${PACKAGES[*]}" >&2; exit 2; }
echo "export-venv: ready at $VENV"
