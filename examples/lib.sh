# Shared helpers of the examples (sourced, not run). Every example is called as
#   examples/NN-name.sh BASE_URL TOKEN
# BASE_URL: where cpix-kms listens (http://127.0.0.1:8080); TOKEN: a KMS token of a site (kms1.…).
#
# Conventions (examples/README.md):
#   admin token   CPIX_KMS_ADMIN_TOKEN (as for the cpix-kms CLI), else the file ADMIN_TOKEN_FILE,
#                 else $DATA_DIR/admin-token (DATA_DIR defaults to ./data: the development setup)
#   site ID       SITE_ID, else looked up through the admin API from the token's ID
#   content IDs   CONTENT_ID, else example-<name>-<time>-<pid>: every run uses new contents
# Tools: bash, curl, openssl, xmlsec1, sed, grep, base64, xxd (and coreutils).

set -euo pipefail

EXAMPLES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXAMPLE=$(basename "$0" .sh)

if [ "${WITHOUT_TOKEN:-}" = yes ]; then
  if [ $# -lt 1 ] || [ -z "$1" ]; then echo "usage: $0 BASE_URL   (e.g. $0 http://127.0.0.1:8080)" >&2; exit 2; fi
  TOKEN=
else
  if [ $# -lt 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
    echo "usage: $0 BASE_URL TOKEN   (e.g. $0 http://127.0.0.1:8080 kms1.…)" >&2
    exit 2
  fi
  TOKEN=$2
fi
BASE_URL=${1%/}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cpix-kms-$EXAMPLE.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*"; }
fail() {
  printf 'FAILED (%s): %s\n' "$EXAMPLE" "$*" >&2
  exit 1
}

# A content ID of this run: CONTENT_ID when set, else example-<what>-<time>-<pid>.
new_content_id() { say "${CONTENT_ID:-example-$1-$(date +%s)-$$}"; }

# A random (version 4) UUID, e.g. for KIDs.
new_uuid() {
  openssl rand -hex 16 | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12})$/\1-\2-4\3-a\4-\5/'
}

# base64url without padding (RFC 4648 §5) of stdin, and back to bytes.
b64url() { base64 | tr -d '\n=' | tr '+/' '-_'; }
b64url_decode() {
  local s
  s=$(tr '_-' '/+')
  while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | base64 -d
}
hex_of_b64() { printf '%s' "$1" | base64 -d | xxd -p -c 256; }
b64url_of_kid() { printf '%s' "${1//-/}" | xxd -r -p | b64url; }

# The admin token, by the convention above (never printed).
admin_token() {
  if [ -n "${CPIX_KMS_ADMIN_TOKEN:-}" ]; then say "$CPIX_KMS_ADMIN_TOKEN"; return; fi
  local file=${ADMIN_TOKEN_FILE:-${DATA_DIR:-data}/admin-token}
  [ -r "$file" ] || fail "no admin token: set CPIX_KMS_ADMIN_TOKEN, or run from the folder whose $file the service created"
  tr -d ' \n\r\t' < "$file"
}

# Hides credentials in what we print: KMS tokens, license-server credentials, the admin token, JWTs.
redact() {
  local text=$1
  if [ -n "${ADMIN_TOKEN:-}" ]; then text=${text//"$ADMIN_TOKEN"/\$ADMIN_TOKEN}; fi
  printf '%s\n' "$text" | sed -E \
    -e 's/(kms1|lsc1)\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+/\1.\2.<secret>/g' \
    -e 's/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/<licence token>/g'
}

# send METHOD PATH BODY [HEADER]...
# BODY: "" (none), a file (sent as it is, shown by its name), or inline JSON starting with { or [.
# Prints the request as a curl line (credentials hidden) and the answer's status; leaves the status
# in STATUS, the body in $WORK/response and the headers in $WORK/headers.
send() {
  local method=$1 path=$2 body=$3
  shift 3
  local args=(-sS -o "$WORK/response" -D "$WORK/headers" -w '%{http_code}' -X "$method")
  local shown="curl -X $method '$BASE_URL$path'"
  local header
  for header in "$@"; do
    args+=(-H "$header")
    shown+=" -H '$header'"
  done
  case "$body" in
    '') ;;
    '{'* | '['*) args+=(--data-raw "$body"); shown+=" -d '$body'" ;;
    *) args+=(--data-binary "@$body"); shown+=" --data-binary @$(basename "$body")" ;;
  esac
  say ""
  redact "\$ $shown"
  STATUS=$(curl "${args[@]}" "$BASE_URL$path") || fail "no answer from $BASE_URL"
  say "  → HTTP $STATUS, $(wc -c < "$WORK/response" | tr -d ' ') bytes$(content_type_note)"
  # Refusals are short text or JSON without secrets: show them.
  if [ "$STATUS" -ge 400 ]; then say "    $(head -c 300 "$WORK/response")"; fi
}
content_type_note() {
  local type
  type=$(sed -n 's/^[Cc]ontent-[Tt]ype: *\([^;[:space:]]*\).*/\1/p' "$WORK/headers" | head -n 1)
  if [ -n "$type" ]; then printf ' of %s' "$type"; fi
}

# send with the admin token (JSON body).
admin_send() {
  local method=$1 path=$2 body=${3:-}
  if [ -n "$body" ]; then
    send "$method" "/admin/v1$path" "$body" "Authorization: Bearer $ADMIN_TOKEN" 'Content-Type: application/json'
  else
    send "$method" "/admin/v1$path" "" "Authorization: Bearer $ADMIN_TOKEN"
  fi
}

expect_status() {
  local wanted
  for wanted in "$@"; do [ "$STATUS" = "$wanted" ] && return 0; done
  fail "expected HTTP $*, got $STATUS: $(head -c 400 "$WORK/response")"
}
# expect_in_response PATTERN WHAT: the (extended) regex must occur in the answer.
expect_in_response() {
  grep -Eq -- "$1" "$WORK/response" || fail "the answer has no $2: $(head -c 400 "$WORK/response")"
}
expect_header() {
  grep -iq "^$1: *$2" "$WORK/headers" || fail "the answer has no '$1: $2' header"
}

# The value of the first "name":"value" string in the JSON answer (good enough for these flat answers).
json_string() {
  grep -o "\"$1\":\"[^\"]*\"" "$WORK/response" | head -n 1 | sed 's/^"[^"]*":"\(.*\)"$/\1/'
}

# The answer's XML with one element per line, for grep and sed.
xml_lines() {
  sed 's/></>\
</g' "${1:-$WORK/response}"
}
# ContentKey KIDs of a CPIX answer, in order; and the base64 PlainValue of one KID.
response_kids() { xml_lines | sed -n 's/^<cpix:ContentKey [^>]*kid="\([^"]*\)".*/\1/p'; }
plain_value() {
  xml_lines | sed -n "/^<cpix:ContentKey [^>]*kid=\"$1\"/,/^<\/cpix:ContentKey>/s/^<pskc:PlainValue>\([^<]*\)<.*/\1/p"
}
# Fails unless each KID given has a PlainValue in the answer.
expect_plain_values() {
  local kid
  for kid in "$@"; do [ -n "$(plain_value "$kid")" ] || fail "no PlainValue for KID $kid"; done
}
count_in_response() { { grep -o -- "$1" "$WORK/response" || true; } | wc -l | tr -d ' '; }

# The site of TOKEN: SITE_ID when set, else found through the admin API (the site listing, then each
# site's tokens, until one has this token's ID).
site_of_token() {
  if [ -n "${SITE_ID:-}" ]; then say "$SITE_ID"; return; fi
  local token_id site auth
  token_id=$(printf '%s' "$TOKEN" | sed -n 's/^kms1\.\([A-Za-z0-9_-]*\)\..*/\1/p')
  [ -n "$token_id" ] || fail "TOKEN is not a KMS token (kms1.<id>.<secret>)"
  auth="Authorization: Bearer $ADMIN_TOKEN"
  curl -sSf -o "$WORK/sites.json" -H "$auth" "$BASE_URL/admin/v1/sites" 2>"$WORK/curl.log" ||
    fail "cannot list the sites with the admin token: $(cat "$WORK/curl.log")"
  for site in $(grep -o '{"id":"[A-Z0-9]*"' "$WORK/sites.json" | cut -d'"' -f4); do
    if curl -sSf -H "$auth" "$BASE_URL/admin/v1/sites/$site/tokens" | grep -q "\"id\":\"$token_id\""; then
      say "$site"
      return
    fi
  done
  fail "no site has the token $token_id: is it a token of this service?"
}

# Writes FILE into $WORK with every contentId="…" / id="…" of its root replaced by CONTENT; prints the path.
with_content_id() {
  local file=$1 content=$2 out
  out="$WORK/$(basename "$file")"
  case "$content" in *[\"\&\<\>\\]*) fail "use a content ID without \" & < > or \\ in these examples" ;; esac
  sed -E "s/(<cpix:CPIX[^>]* (contentId|id)=\")[^\"]*\"/\1$(printf '%s' "$content" | sed 's/[\/&]/\\&/g')\"/" "$file" > "$out"
  grep -qF "\"$content\"" "$out" || fail "could not set the content ID in $file"
  say "$out"
}

# UTC xs:dateTime of a Unix time (GNU or BSD date).
utc_time() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ; }
