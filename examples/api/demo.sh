#!/usr/bin/env bash
# examples/api/README.md, end to end: apply the fleet, start `fgform serve`, create a key that
# may only describe and scale the service `web`, scale `web` to 4 tasks with the aws CLI, see
# `aws ecs run-task` denied for that key, see `plan` show the new count as drift, then stop the
# server, revoke the key and destroy. Every step checks its result; the script exits non-zero
# (saying which step) when one does not give what the README says.
#
#   bash scripts/setup.sh && bash examples/api/demo.sh   # on a fresh machine
#   bash examples/api/demo.sh --keep                      # leave the fleet running (scaled to 4)
#
# FGFORM_API_LISTEN moves the server off 127.0.0.1:4566 (the endpoint the README uses);
# FGFORM="python3 -m fgform" runs fgform from a checkout that is not installed.
set -euo pipefail
cd "$(dirname "$0")"
keep=${1:-}
listen=${FGFORM_API_LISTEN:-127.0.0.1:4566}
endpoint="http://$listen"
read -r -a FG <<<"${FGFORM:-fgform}"
key=scaler

fail() { echo "demo: FAILED: $*" >&2; exit 1; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
fgf() { "${FG[@]}" "$@"; }
# One value out of JSON on stdin, by a Python expression over `d` (no jq on a fresh machine).
jget() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

for cmd in "${FG[0]}" aws curl python3; do
    command -v "$cmd" >/dev/null || fail "$cmd is not installed: run 'bash scripts/setup.sh' first"
done

# Not someone else's server answering in place of ours (checked before anything is made).
if curl -s -o /dev/null --max-time 2 "$endpoint/"; then
    fail "something already listens on $listen: set FGFORM_API_LISTEN=127.0.0.1:PORT"
fi
tmp=$(mktemp -d /tmp/fgform-api-demo.XXXXXX)  # 0700: the key's secret lives here
server_pid=
cleanup() {
    status=$?
    set +e
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        step "stop the server (SIGTERM: in-flight requests finish)"
        kill -TERM "$server_pid"
        wait "$server_pid"
        code=$?
        if [[ $code != 0 ]]; then
            cat "$tmp/serve.log"; echo "demo: fgform serve exited $code on SIGTERM" >&2; status=1
        fi
    fi
    fgf api-key revoke "$key" >/dev/null 2>&1
    if [[ $keep != --keep ]]; then
        step "destroy"
        fgf destroy -auto-approve >"$tmp/destroy.log" 2>&1 || {
            cat "$tmp/destroy.log"; echo "demo: destroy failed" >&2; status=1; }
        tail -n 1 "$tmp/destroy.log"
    fi
    rm -rf "$tmp"
    exit $status
}
trap cleanup EXIT

running_web() {
    fgf tasks web -json | jget 'sum(1 for t in d if t["service"] == "web" and t["status"] == "RUNNING")'
}

step "apply the fleet (examples/hello's, with the service web at 2 tasks)"
show fgform apply -auto-approve
fgf apply -auto-approve >"$tmp/apply.log" 2>&1 || { cat "$tmp/apply.log"; fail "apply"; }
tail -n 4 "$tmp/apply.log"
show fgform tasks
fgf tasks
[[ $(running_web) == 2 ]] || fail "web does not run 2 tasks after apply"

step "start the API server on $endpoint"
show "fgform serve -reconcile -listen $listen &"
# Not through fgf(): $! must be the server itself, for the SIGTERM at the end.
"${FG[@]}" serve -reconcile -listen "$listen" >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
    # Any HTTP answer means it listens: an unsigned ListClusters is refused with 403
    # (MissingAuthenticationTokenException), as AWS refuses it.
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' \
        -H 'X-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters' \
        -H 'Content-Type: application/x-amz-json-1.1' "$endpoint/" || true)
    [[ $code != 000 ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log"; server_pid=; fail "fgform serve exited"; }
    sleep 0.2
done
[[ $code != 000 ]] || { cat "$tmp/serve.log"; fail "fgform serve does not answer on $endpoint"; }
[[ $code == 403 ]] || fail "an unsigned request got HTTP $code, not 403"
echo "listening (an unsigned request is refused: HTTP $code)"

step "create a key that may only describe and scale web"
cat scale-web.json
fgf api-key revoke "$key" >/dev/null 2>&1 || true  # left by an interrupted run
show "fgform api-key create $key -policy scale-web.json -json > scaler.json"
(umask 077; fgf api-key create "$key" -policy scale-web.json -json >"$tmp/key.json") \
    || fail "api-key create"
AWS_ACCESS_KEY_ID=$(jget 'd["access_key_id"]' <"$tmp/key.json")
AWS_SECRET_ACCESS_KEY=$(jget 'd["secret_access_key"]' <"$tmp/key.json")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
# Only this key: no profile or credentials file of the machine's user may take part.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "access key id: $AWS_ACCESS_KEY_ID (the secret is in a 0600 file, never printed again)"
fgf api-key list

step "describe web with the aws CLI"
show aws ecs describe-services --endpoint-url "$endpoint" --cluster api --services web
aws ecs describe-services --endpoint-url "$endpoint" --cluster api --services web \
    >"$tmp/describe.json" || fail "describe-services"
jget '[(s["serviceName"], s["status"], s["desiredCount"], s["runningCount"]) for s in d["services"]]' \
    <"$tmp/describe.json"
[[ $(jget 'd["services"][0]["desiredCount"]' <"$tmp/describe.json") == 2 ]] \
    || fail "describe-services does not say desiredCount 2"

step "scale web to 4 tasks with the aws CLI"
show aws ecs update-service --endpoint-url "$endpoint" --cluster api --service web --desired-count 4
aws ecs update-service --endpoint-url "$endpoint" --cluster api --service web --desired-count 4 \
    >"$tmp/update.json" || fail "update-service"
jget '(d["service"]["serviceArn"], d["service"]["desiredCount"])' <"$tmp/update.json"
[[ $(jget 'd["service"]["desiredCount"]' <"$tmp/update.json") == 4 ]] \
    || fail "update-service did not answer desiredCount 4"
# The real fleet: four task containers run (the new ones within a few seconds).
for _ in $(seq 1 120); do
    [[ $(running_web) == 4 ]] && break
    sleep 0.5
done
show fgform tasks
fgf tasks
[[ $(running_web) == 4 ]] || fail "web does not run 4 tasks after update-service"

step "run-task is not in the key's policy: denied"
show aws ecs run-task --endpoint-url "$endpoint" --cluster api --task-definition api-web
if aws ecs run-task --endpoint-url "$endpoint" --cluster api --task-definition api-web \
    >"$tmp/run.out" 2>"$tmp/run.err"; then
    fail "run-task was allowed for a key whose policy does not allow it"
fi
cat "$tmp/run.err"
grep -q AccessDeniedException "$tmp/run.err" || fail "run-task did not fail with AccessDeniedException"
[[ $(running_web) == 4 ]] || fail "the denied run-task changed the fleet"
td=arn:aws:ecs:us-east-1:000000000000:task-definition/api-web:1
show fgform api-key simulate $key ecs:RunTask $td
fgf api-key simulate "$key" ecs:RunTask "$td" | tee "$tmp/simulate.txt"
grep -q 'implicitly denied' "$tmp/simulate.txt" || fail "api-key simulate does not explain the denial"

step "the audit log"
show fgform api-log
fgf api-log | tail -n 4

step "plan: the API's change is drift the configuration undoes"
show fgform plan
set +e
fgf plan -detailed-exitcode -no-color >"$tmp/plan.log" 2>&1
code=$?
set -e
# The lines that matter (the whole plan also lists the tasks and targets that would go).
grep -E '^  # |~ desired_count|^Plan:' "$tmp/plan.log"
[[ $code == 2 ]] || cat "$tmp/plan.log"
[[ $code == 2 ]] || fail "plan exited $code, not 2 (changes)"
grep -Eq 'desired_count += +4 +-> +2' "$tmp/plan.log" || fail "plan does not show desired_count 4 -> 2"

echo
echo "demo: every step gave the expected result"
