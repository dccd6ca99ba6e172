#!/usr/bin/env bash
# 01 — SPEKE v1: a live key request as AWS Elemental MediaPackage (v1) sends it for DASH with
# Widevine and PlayReady and key rotation: one key for the crypto period with index 11425.
# Spec: AWS SPEKE API v1 (https://docs.aws.amazon.com/speke/latest/documentation/): DASH-IF CPIX 2.0
# with the urn:aws:amazon:com:speke elements, no X-Speke-Version header.
# Request: 01-speke-v1.xml (CPIX@id is the content ID; this script sets a new one per run).
# The token goes in X-KMS-Token, as API Gateway adds it in front of MediaPackage (docs/packagers.md);
# Authorization: Bearer and ?enc-token= work too.
# Usage: examples/01-speke-v1.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"

# The heartbeat SPEKE v1 encryptors may probe (no token).
send GET /speke/heartbeat ""
expect_status 200

content=$(new_content_id speke-v1)
body=$(with_content_id "$EXAMPLES_DIR/01-speke-v1.xml" "$content")
send POST /speke/copyProtection "$body" "X-KMS-Token: $TOKEN" 'Content-Type: application/xml'
expect_status 200
kid=$(response_kids | head -n 1)
expect_plain_values "$kid"
expect_in_response '<cpix:PSSH>[A-Za-z0-9+/]' 'filled PSSH'
expect_in_response '<speke:ProtectionHeader>[A-Za-z0-9+/]' 'filled speke:ProtectionHeader (PlayReady)'
say "  content $content: key of KID $kid with PlainValue, $(count_in_response '<cpix:PSSH>') PSSH boxes (Widevine, PlayReady)"
