#!/usr/bin/env bash
# 09 — Revocation: a content's keys are issued (SPEKE v2.0), then the content is revoked for good;
# a repeat is 200 (the first revocation stands), the next key request for it is 410, and the
# revocation is listed for license servers to poll.
# Routes: POST /admin/v1/sites/{siteId}/contents/{contentId}/revoke (docs/content-policies.md; body
# schema schemas/admin/revoke.schema.json; "kids" would revoke only some keys),
# GET /admin/v1/sites/{siteId}/revocations?since=…
# Request: 09-revoke.json and 02-speke-v2.xml. Needs the admin token (examples/README.md).
# Usage: examples/09-revoke.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"
ADMIN_TOKEN=$(admin_token)
site=$(site_of_token)

since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
content=$(new_content_id revoke)
body=$(with_content_id "$EXAMPLES_DIR/02-speke-v2.xml" "$content")
send POST /speke/copyProtection "$body" "X-KMS-Token: $TOKEN" 'X-Speke-Version: 2.0' 'Content-Type: application/xml'
expect_status 200

admin_send POST "/sites/$site/contents/$content/revoke" "$EXAMPLES_DIR/09-revoke.json"
expect_status 201
expect_in_response '"revokedAt":"' 'revokedAt'
admin_send POST "/sites/$site/contents/$content/revoke" "$EXAMPLES_DIR/09-revoke.json"
expect_status 200

# The packager's next request for the content: 410, as SPEKE text.
send POST /speke/copyProtection "$body" "X-KMS-Token: $TOKEN" 'X-Speke-Version: 2.0' 'Content-Type: application/xml'
expect_status 410

admin_send GET "/sites/$site/revocations?since=$since"
expect_status 200
expect_in_response "\"contentId\":\"$content\"" 'the revoked content'
say "  content $content: revoked; key requests for it are refused with 410"
