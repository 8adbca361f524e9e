# Sourced by the scripts: sets PYTHON313 to a Python 3.13 interpreter, or exits with a clear error.
find_python313() {
  local candidate
  for candidate in "${PYTHON313:-}" "$(command -v python3.13 2>/dev/null || true)" \
    "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13.0/bin/python3.13"; do
    if [[ -n "$candidate" && -x "$candidate" ]] &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
      PYTHON313="$candidate"
      return 0
    fi
  done
  echo "error: Python 3.13 not found (tried python3.13 on PATH and" \
    "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13.0/bin/python3.13)." \
    "Install it, e.g. 'pyenv install 3.13.0', or set PYTHON313=/path/to/python3.13." >&2
  exit 1
}

# make_venv DIR REQUIREMENTS: create DIR as a venv and install REQUIREMENTS into it, unless the
# stamp (sha256 of REQUIREMENTS + interpreter version) inside DIR says it is already up to date.
# Quiet on success; prints pip's log on failure.
make_venv() {
  local dir="$1" requirements="$2" stamp want log
  stamp="$dir/.requirements.sha256"
  find_python313
  want="$(sha256sum "$requirements" | cut -d' ' -f1) $("$PYTHON313" -VV | tr -s ' ')"
  if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  echo "==> creating $(basename "$dir") from $(basename "$requirements") (one-time, ~1 min)" >&2
  rm -rf "$dir"
  "$PYTHON313" -m venv "$dir"
  log="$dir/pip-install.log"
  if ! "$dir/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" \
    >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
    echo "error: pip install -r $requirements failed (log: $log)" >&2
    exit 1
  fi
  printf '%s' "$want" >"$stamp"
}
