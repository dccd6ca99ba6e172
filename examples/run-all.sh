#!/usr/bin/env bash
# Runs every example in order against one service and prints a PASS or FAIL line for each.
#   examples/run-all.sh BASE_URL [TOKEN]
# Without TOKEN, 00-create-site.sh first creates a site (admin API) and the others use its token.
# The admin token comes as for each example: CPIX_KMS_ADMIN_TOKEN, or the development setup's
# data/admin-token in the current folder (examples/README.md). Exits 0 when every example passed.
set -uo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 BASE_URL [TOKEN]   (e.g. $0 http://127.0.0.1:8080 kms1.…)" >&2
  exit 2
fi
BASE_URL=$1
TOKEN=${2:-}
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Each example makes its own content IDs; one CONTENT_ID for all would make 09 revoke the others'.
unset CONTENT_ID

passed=0
failed=0
failed_names=""
report() { # NAME EXIT_CODE SECONDS
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1))
    echo "PASS $1 (${3}s)"
  else
    failed=$((failed + 1))
    failed_names="$failed_names $1"
    echo "FAIL $1 (exit $2)"
  fi
}

if [ -z "$TOKEN" ]; then
  echo "=== 00-create-site (no TOKEN given)"
  start=$SECONDS
  out=$("$DIR/00-create-site.sh" "$BASE_URL")
  code=$?
  # The new token is shown once; keep it out of this output.
  printf '%s\n' "$out" | grep -v '^TOKEN='
  TOKEN=$(printf '%s\n' "$out" | sed -n 's/^TOKEN=//p')
  export SITE_ID
  SITE_ID=$(printf '%s\n' "$out" | sed -n 's/^SITE_ID=//p')
  report 00-create-site "$code" $((SECONDS - start))
  if [ "$code" -ne 0 ] || [ -z "$TOKEN" ]; then
    echo "run-all: no site, so no example can run" >&2
    exit 1
  fi
fi

for script in "$DIR"/[0-9][0-9]-*.sh; do
  name=$(basename "$script" .sh)
  [ "$name" = 00-create-site ] && continue
  echo
  echo "=== $name"
  start=$SECONDS
  "$script" "$BASE_URL" "$TOKEN"
  report "$name" $? $((SECONDS - start))
done

echo
if [ "$failed" -eq 0 ]; then
  echo "run-all: all $passed examples passed"
else
  echo "run-all: $failed of $((passed + failed)) examples failed:$failed_names"
  exit 1
fi
