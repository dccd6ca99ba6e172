#!/usr/bin/env bash
# 10 — A content policy (DRM group): what license servers must enforce for the contents under it
# (security level, persistent licences, licence duration, key-rotation interval). Created, assigned
# to a content, read back as the content's effective policy, then taken off and deleted again.
# The license export carries the policy of its content in signed content (docs/license-servers.md).
# Routes: POST /admin/v1/sites/{siteId}/policies, PUT and GET …/contents/{contentId}/policy,
# DELETE …/policies/{name} (docs/content-policies.md; schemas/admin/policy-*.schema.json).
# Request: 10-policy.json (this script makes its name unique per run). Needs the admin token.
# Usage: examples/10-policy.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"
ADMIN_TOKEN=$(admin_token)
site=$(site_of_token)

name="example-premium-$(date +%s)-$$"
sed "s/\"name\": *\"[^\"]*\"/\"name\": \"$name\"/" "$EXAMPLES_DIR/10-policy.json" > "$WORK/10-policy.json"
admin_send POST "/sites/$site/policies" "$WORK/10-policy.json"
expect_status 201

content=$(new_content_id policy)
admin_send PUT "/sites/$site/contents/$content/policy" "{\"policy\":\"$name\"}"
expect_status 200
admin_send GET "/sites/$site/contents/$content/policy"
expect_status 200
expect_in_response "\"policy\":\\{\"name\":\"$name\",\"securityLevel\":\"HIGH\"" "policy $name"
say "  content $content is under policy $name (HIGH, no persistent licence, 86400 s)"

# Clean up: a policy in use cannot be deleted (409), so take it off the content first.
admin_send DELETE "/sites/$site/policies/$name"
expect_status 409
admin_send PUT "/sites/$site/contents/$content/policy" '{"policy":null}'
expect_status 200
admin_send DELETE "/sites/$site/policies/$name"
expect_status 204
say "  policy $name deleted again"
