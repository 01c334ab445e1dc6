#!/usr/bin/env bash
# Install what the browser smoke tests (pytest -m browser, tests/browser/) need:
# Debian's chromium and a font (apt), JupyterLab, Notebook 7 and Playwright's Python package (the `browser`
# extra). Never `playwright install`: it downloads its own browser; the tests drive /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian"
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

"$PY" -m pip install -q -e ".[test,browser]"
/usr/bin/chromium --version
"$PY" -c "import jupyterlab, notebook, playwright; print('jupyterlab', jupyterlab.__version__, 'notebook', notebook.__version__)"
