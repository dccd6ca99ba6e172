#!/usr/bin/env bash
# 07 — License export, and what a license server does with it: register a license server with its
# certificate (a throwaway RSA-2048 self-signed one made here), fetch the content's keys with the
# license server's credential, verify the XML-DSig against the pinned export certificate (xmlsec1),
# check the grant, and decrypt a content key with the license server's private key (openssl):
# RSA-OAEP unwraps the document key and the MAC key, HMAC-SHA512 checks the key's ValueMAC, then
# AES-256-CBC (IV = the first 16 bytes of CipherValue) gives the key. docs/license-servers.md.
# Spec: DASH-IF CPIX 2.3 (https://dashif.org/docs/CPIX2.3/Cpix.html) encrypted key delivery and
# signatures; W3C XML Signature and XML Encryption.
# Routes: POST /admin/v1/sites/{siteId}/license-servers, GET /license/v1/sites/{siteId}/contents/{contentId},
# GET /license/v1/sites/{siteId}/revocations, DELETE /admin/v1/sites/{siteId}/license-servers/{id}.
# The keys come from a SPEKE v2.0 request first (02-speke-v2.xml). Needs the admin token and the
# export certificate: EXPORT_SIGNING_CERT_FILE, else the certificate in $DATA_DIR/export-signing.pem
# (development setup; DATA_DIR defaults to ./data) — examples/README.md.
# Usage: examples/07-license-export.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"
ADMIN_TOKEN=$(admin_token)
site=$(site_of_token)

# The export certificate the license server pins (never the one in the document's KeyInfo).
pinned="$WORK/export-signing.crt"
if [ -n "${EXPORT_SIGNING_CERT_FILE:-}" ]; then
  cp "$EXPORT_SIGNING_CERT_FILE" "$pinned"
else
  sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "${DATA_DIR:-data}/export-signing.pem" > "$pinned" 2>/dev/null || true
fi
[ -s "$pinned" ] || fail "no export certificate: set EXPORT_SIGNING_CERT_FILE, or run from the folder whose ${DATA_DIR:-data}/export-signing.pem the service created"

# 1. A packager gets the content's keys (SPEKE v2.0).
content=$(new_content_id export)
body=$(with_content_id "$EXAMPLES_DIR/02-speke-v2.xml" "$content")
send POST /speke/copyProtection "$body" "X-KMS-Token: $TOKEN" 'X-Speke-Version: 2.0' 'Content-Type: application/xml'
expect_status 200
kid=$(response_kids | head -n 1)
speke_key=$(hex_of_b64 "$(plain_value "$kid")")

# 2. The license server's identity, and its registration (the credential is shown once).
say ""
say "\$ openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 1 -subj '/CN=example license server' -keyout license-server.key -out license-server.crt"
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 1 -subj '/CN=example license server' \
  -keyout "$WORK/license-server.key" -out "$WORK/license-server.crt" 2>/dev/null
pem=$(cat "$WORK/license-server.crt")
printf '{"name":"example license server","certificate":"%s\\n"}' "${pem//$'\n'/\\n}" > "$WORK/license-server.json"
admin_send POST "/sites/$site/license-servers" "$WORK/license-server.json"
expect_status 201
license_server=$(json_string id)
credential=$(json_string credential)
say "  license server $license_server, credential $(redact "$credential")"

# 3. The export, fetched by the license server.
send GET "/license/v1/sites/$site/contents/$content" "" "Authorization: Bearer $credential"
expect_status 200
cp "$WORK/response" "$WORK/export.xml"

# 4. The signature (exactly one, over the whole document), against the pinned export certificate only.
[ "$(count_in_response '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">')" -eq 1 ] || fail "expected one signature"
say ""
say "\$ xmlsec1 --verify --enabled-reference-uris same-doc,empty --pubkey-cert-pem export-signing.crt --enabled-key-data rsa export.xml"
xmlsec1 --verify --enabled-reference-uris same-doc,empty --pubkey-cert-pem "$pinned" --enabled-key-data rsa \
  "$WORK/export.xml" > "$WORK/xmlsec.log" 2>&1 || fail "the signature does not verify: $(cat "$WORK/xmlsec.log")"
say "  signature OK (signed by the export identity)"

# 5. The grant in every usage rule: our site, our license server, not expired; and the content.
grep -q "<cpix:CPIX [^>]*contentId=\"$content\"" "$WORK/export.xml" || fail "the export is for another content"
rules=$(count_in_response '<cpix:ContentKeyUsageRule ')
grants=$(xml_lines | grep -c "^<kms:ExportGrant [^>]*licenseServerId=\"$license_server\" siteId=\"$site\"" || true)
[ "$rules" -gt 0 ] && [ "$rules" = "$grants" ] || fail "$grants of $rules usage rules carry our grant"
now=$(date -u +%Y-%m-%dT%H:%M:%S)
for expires in $(xml_lines | sed -n 's/^<kms:ExportGrant [^>]*expiresAt="\([^"]*\)".*/\1/p'); do
  [[ "$now" < "$expires" ]] || fail "the grant expired at $expires"
done
say "  grant OK: site $site, license server $license_server, $rules usage rules, valid until $expires"

# 6. Decrypt the first key: unwrap the document key and the MAC key (RSA-OAEP, MGF1 SHA-1) ...
cipher_value_in() { xml_lines "$WORK/export.xml" | sed -n "$1,$2s/^<enc:CipherValue>\([^<]*\)<.*/\1/p" | head -n 1; }
unwrap() {
  printf '%s' "$1" | base64 -d > "$WORK/wrapped.bin"
  openssl pkeyutl -decrypt -inkey "$WORK/license-server.key" -in "$WORK/wrapped.bin" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 | xxd -p -c 256
}
say ""
say "\$ openssl pkeyutl -decrypt -inkey license-server.key -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1  # DocumentKey, MACMethod/Key"
document_key=$(unwrap "$(cipher_value_in '/^<cpix:DocumentKey /' '/^<\/cpix:DocumentKey>/')")
mac_key=$(unwrap "$(cipher_value_in '/^<cpix:MACMethod /' '/^<\/cpix:MACMethod>/')")
[ ${#document_key} -eq 64 ] && [ ${#mac_key} -eq 128 ] || fail "unexpected document key or MAC key length"

# ... check the key's ValueMAC (HMAC-SHA512 of CipherValue) before decrypting ...
range="/^<cpix:ContentKey [^>]*kid=\"$kid\"/"
cipher_value=$(cipher_value_in "$range" '/^<\/cpix:ContentKey>/')
value_mac=$(xml_lines "$WORK/export.xml" | sed -n "$range,/^<\/cpix:ContentKey>/s/^<pskc:ValueMAC>\([^<]*\)<.*/\1/p")
printf '%s' "$cipher_value" | base64 -d > "$WORK/cipher.bin"
say "\$ openssl dgst -sha512 -mac HMAC -macopt hexkey:<MAC key> -binary < CipherValue  # = ValueMAC?"
mac=$(openssl dgst -sha512 -mac HMAC -macopt "hexkey:$mac_key" -binary < "$WORK/cipher.bin" | base64 | tr -d '\n')
[ "$mac" = "$value_mac" ] || fail "ValueMAC of KID $kid does not match"

# ... and decrypt: AES-256-CBC with the document key, IV = the first 16 bytes of CipherValue.
say "\$ openssl enc -d -aes-256-cbc -K <document key> -iv <CipherValue[0..16]> < CipherValue[16..]"
iv=$(head -c 16 "$WORK/cipher.bin" | xxd -p -c 256)
tail -c +17 "$WORK/cipher.bin" > "$WORK/encrypted-key.bin"
key=$(openssl enc -d -aes-256-cbc -K "$document_key" -iv "$iv" -in "$WORK/encrypted-key.bin" | xxd -p -c 256)
[ "$key" = "$speke_key" ] || fail "the exported key of KID $kid is not the key SPEKE answered"
say "  key of KID $kid decrypted (MAC OK): $key, the key the packager got"

# 7. The license server also polls the site's revocations (docs/content-policies.md).
send GET "/license/v1/sites/$site/revocations" "" "Authorization: Bearer $credential"
expect_status 200
expect_in_response '"revocations":\[' 'revocation list'

# 8. Clean up: revoke the throwaway license server; its credential stops working at once.
admin_send DELETE "/sites/$site/license-servers/$license_server"
expect_status 204
send GET "/license/v1/sites/$site/contents/$content" "" "Authorization: Bearer $credential"
expect_status 401
say "  content $content: exported, verified, decrypted; license server revoked"
