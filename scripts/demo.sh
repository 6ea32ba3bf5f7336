#!/usr/bin/env bash
# The main job: set up, apply examples/hello from nothing to a serving service behind its
# load balancer, show answers from more than one task at the load balancer's URL, then
# destroy it. Pass --keep to leave it running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
keep=${1:-}
dir=examples/hello
fgform -chdir=$dir apply -auto-approve
echo
fgform -chdir=$dir tasks
echo
# Through the load balancer: each request goes to one of the healthy tasks.
url=$(fgform -chdir=$dir output -raw url)
for i in 1 2 3 4; do
  echo "\$ curl -s $url/cgi-bin/info"
  curl -fsS --max-time 5 "$url/cgi-bin/info"
done
echo
fgform -chdir=$dir lb status
if [ "$keep" != "--keep" ]; then
  echo
  fgform -chdir=$dir destroy -auto-approve
fi
