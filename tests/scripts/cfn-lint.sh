#!/usr/bin/env bash
# cfn-lint.sh TEMPLATE...: validates SAM/CloudFormation templates with cfn-lint, installed from
# PyPI into a virtual environment under .caas/venv on first use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.caas/venv"
# Pinned so a new rule upstream cannot fail a build that passed yesterday.
CFN_LINT_VERSION="${CFN_LINT_VERSION:-1.58.0}"

[ $# -ge 1 ] || { echo "usage: $0 TEMPLATE..." >&2; exit 2; }

installed() {
	[ -x "$VENV/bin/cfn-lint" ] &&
		[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null)" = "$CFN_LINT_VERSION" ]
}

if ! installed; then
	echo "[cfn-lint] installing cfn-lint $CFN_LINT_VERSION into $VENV" >&2
	start=$SECONDS
	command -v python3 >/dev/null || { echo "[cfn-lint] ERROR: python3 is needed" >&2; exit 1; }
	[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
	echo "[cfn-lint] installed in $((SECONDS - start))s" >&2
fi

"$VENV/bin/cfn-lint" "$@"
echo "[cfn-lint] $* passed" >&2
