#!/usr/bin/env bash
# Debian packages that carry real scans (CT head, Colin27, an ITK brain slice) and the browser that
# checks the report. Optional for users; the tests that need one skip with this install command.
# Installs them when it can (root with apt-get), otherwise prints the command and succeeds.
set -uo pipefail
PKGS="invesalius-examples mricron-data insighttoolkit5-examples chromium"
missing=()
[ -f /usr/share/doc/invesalius-examples/examples/Cranium.inv3 ] || missing+=(invesalius-examples)
[ -f /usr/share/mricron/templates/ch2.nii.gz ] || missing+=(mricron-data)
dpkg -s insighttoolkit5-examples >/dev/null 2>&1 || missing+=(insighttoolkit5-examples)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1; then
    exit 0
  fi
  echo "warning: could not install ${missing[*]}; the tests that need them will skip"
else
  echo "note: optional system data missing; the tests that need it will skip. To run them:"
  echo "  sudo apt-get install ${missing[*]}"
fi
exit 0
