#!/usr/bin/env bash
# The main job: set up, apply examples/hello from nothing to a serving service, show it
# answering, then destroy it. Pass --keep to leave it running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
keep=${1:-}
dir=examples/hello
fgform -chdir=$dir apply -auto-approve
echo
fgform -chdir=$dir tasks
echo
for url in $(fgform -chdir=$dir output -json task_addresses | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'); do
  echo "\$ curl -s ${url}cgi-bin/info"
  curl -fsS --max-time 5 "${url}cgi-bin/info"
done
if [ "$keep" != "--keep" ]; then
  echo
  fgform -chdir=$dir destroy -auto-approve
fi
