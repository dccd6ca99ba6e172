#!/usr/bin/env bash
# 08 — Key import: a key made elsewhere (here: the PallyCon packager's manual mode, a 32-byte CEK =
# KEY ‖ IV for the HD track) imported into a content, all or nothing; a repeat is 200; then a PallyCon
# CPIX API request for that content's HD track is answered with the imported KID, key and IV.
# Route: POST /admin/v1/sites/{siteId}/contents/{contentId}/keys (docs/content-policies.md; body
# schema schemas/admin/key-import.schema.json), then POST /v1/cpix/pallycon/getKey/TOKEN.
# Request: 08-key-import.json (its key is an example value: this script sends 32 fresh random bytes
# instead) and 04-pallycon-v1.xml. Needs the admin token (examples/README.md).
# Usage: examples/08-key-import.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"
ADMIN_TOKEN=$(admin_token)
site=$(site_of_token)

content=$(new_content_id import)
cek=$(openssl rand -base64 32)
kid=$(sed -n 's/.*"kid": *"\([^"]*\)".*/\1/p' "$EXAMPLES_DIR/08-key-import.json")
sed "s|\"key\": *\"[^\"]*\"|\"key\": \"$cek\"|" "$EXAMPLES_DIR/08-key-import.json" > "$WORK/08-key-import.json"
admin_send POST "/sites/$site/contents/$content/keys" "$WORK/08-key-import.json"
expect_status 201
expect_in_response "\"kid\":\"$kid\"" "imported KID"

# The same import again: nothing changes, 200.
admin_send POST "/sites/$site/contents/$content/keys" "$WORK/08-key-import.json"
expect_status 200

# A PallyCon single-key request (track type HD) for the content gets the imported key and IV.
body=$(with_content_id "$EXAMPLES_DIR/04-pallycon-v1.xml" "$content")
send POST "/v1/cpix/pallycon/getKey/$TOKEN" "$body" 'Content-Type: application/xml'
expect_status 200
[ "$(response_kids)" = "$kid" ] || fail "the answer's KID is not the imported $kid"
cek_hex=$(hex_of_b64 "$cek")
[ "$(hex_of_b64 "$(plain_value "$kid")")" = "${cek_hex:0:32}" ] || fail "the answer's key is not the imported one"
iv=$(xml_lines | sed -n 's/^<cpix:ContentKey [^>]*explicitIV="\([^"]*\)".*/\1/p')
[ "$(hex_of_b64 "$iv")" = "${cek_hex:32:32}" ] || fail "the answer's explicitIV is not the imported IV"
say "  content $content: imported KID $kid answered with the imported key and IV"
