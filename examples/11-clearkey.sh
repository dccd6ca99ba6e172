#!/usr/bin/env bash
# 11 — A ClearKey licence for a player: the site registers an HS256 licence-token key, "its backend"
# (this script) signs a licence token (a JWT: iss = site, sub = user, cid = content, exp), and the
# player's ClearKey CDM POSTs the W3C licence request with it. The answer is a JWK set with the
# content's keys. Revoking the licence-token key stops its tokens at once.
# Spec: W3C Encrypted Media Extensions, Clear Key (https://www.w3.org/TR/encrypted-media/#clear-key),
# JWT (RFC 7519) with HS256 (RFC 7518); docs/clearkey.md.
# Routes: POST /admin/v1/sites/{siteId}/licence-token-keys, POST /clearkey/v1/license,
# DELETE /admin/v1/sites/{siteId}/licence-token-keys/{kid}.
# Request: 11-licence-token-key.json, 11-clearkey.json (the KIDs of 02-speke-v2.xml, base64url), and
# 02-speke-v2.xml for the content's keys. Needs the admin token (examples/README.md).
# Usage: examples/11-clearkey.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"
ADMIN_TOKEN=$(admin_token)
site=$(site_of_token)

content=$(new_content_id clearkey)
body=$(with_content_id "$EXAMPLES_DIR/02-speke-v2.xml" "$content")
send POST /speke/copyProtection "$body" "X-KMS-Token: $TOKEN" 'X-Speke-Version: 2.0' 'Content-Type: application/xml'
expect_status 200
kid=$(response_kids | head -n 1)
key=$(plain_value "$kid")

admin_send POST "/sites/$site/licence-token-keys" "$EXAMPLES_DIR/11-licence-token-key.json"
expect_status 201
token_kid=$(json_string kid)
secret=$(json_string secret)
say "  licence-token key $token_kid (HS256; its secret is shown once, to the customer's backend)"

# The backend's licence token: base64url(header).base64url(claims).base64url(HMAC-SHA256).
now=$(date +%s)
header=$(printf '{"alg":"HS256","typ":"JWT","kid":"%s"}' "$token_kid" | b64url)
claims=$(printf '{"iss":"%s","sub":"example-user-42","cid":"%s","iat":%d,"exp":%d}' "$site" "$content" "$now" $(( now + 600 )) | b64url)
secret_hex=$(printf '%s' "$secret" | b64url_decode | xxd -p -c 256)
signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$secret_hex" -binary | b64url)
licence_token="$header.$claims.$signature"
say ""
say "licence token: {\"alg\":\"HS256\",\"kid\":\"$token_kid\"} {\"iss\":\"$site\",\"sub\":\"example-user-42\",\"cid\":\"$content\",\"exp\":now+600} signed with openssl dgst -sha256 -mac HMAC"

send POST /clearkey/v1/license "$EXAMPLES_DIR/11-clearkey.json" "Authorization: Bearer $licence_token" 'Content-Type: application/json'
expect_status 200
expect_in_response '"type":"temporary"' 'licence type'
want_kid=$(b64url_of_kid "$kid")
want_k=$(printf '%s' "$key" | base64 -d | b64url)
expect_in_response "\\{\"kty\":\"oct\",\"kid\":\"$want_kid\",\"k\":\"$want_k\"\\}" "key of KID $kid ($want_kid)"
say "  licence: $(count_in_response '"kty":"oct"') keys; KID $want_kid has the key SPEKE issued"

# Clean up: revoke the licence-token key; the same token is refused from now on.
admin_send DELETE "/sites/$site/licence-token-keys/$token_kid"
expect_status 204
send POST /clearkey/v1/license "$EXAMPLES_DIR/11-clearkey.json" "Authorization: Bearer $licence_token" 'Content-Type: application/json'
expect_status 401
say "  content $content: licence issued; after revoking the licence-token key its token gets 401"
