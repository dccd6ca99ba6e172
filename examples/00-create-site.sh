#!/usr/bin/env bash
# 00 — Create a site (admin API): the answer holds the site's first KMS token, which every key
# route takes. run-all.sh runs this when it is given no TOKEN.
# Route: POST /admin/v1/sites (docs/admin-api.md; body schema schemas/admin/site-create.schema.json).
# Request: 00-create-site.json. Needs the admin token (examples/README.md).
# Usage: examples/00-create-site.sh BASE_URL
# Prints SITE_ID=… and TOKEN=… as its last two lines. The token is shown once: keep it.
WITHOUT_TOKEN=yes
source "$(dirname "$0")/lib.sh"
ADMIN_TOKEN=$(admin_token)

admin_send POST /sites "$EXAMPLES_DIR/00-create-site.json"
expect_status 201
expect_in_response '"token":"kms1\.' 'KMS token'
site=$(json_string id)
token=$(grep -o '"token":"kms1\.[^"]*"' "$WORK/response" | cut -d'"' -f4)
say "  site $site created, with its first KMS token $(redact "$token")"
say "SITE_ID=$site"
say "TOKEN=$token"
