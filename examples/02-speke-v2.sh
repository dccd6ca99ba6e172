#!/usr/bin/env bash
# 02 — SPEKE v2.0: a VOD key request as AWS Elemental MediaPackage (v2) sends it for DASH/CMAF with
# Widevine and PlayReady, encryption contract PRESET_VIDEO_1 + PRESET_AUDIO_1 (one video key, one
# audio key), cenc. Every DRMSystem carries the four empty placeholders MediaPackage sends.
# Spec: AWS SPEKE API v2 (https://docs.aws.amazon.com/speke/latest/documentation/the-speke-api-v2.html):
# X-Speke-Version: 2.0 and DASH-IF CPIX 2.3 (https://dashif.org/docs/CPIX2.3/Cpix.html),
# CPIX@contentId and CPIX@version="2.3".
# Request: 02-speke-v2.xml (CPIX@contentId is set per run).
# Usage: examples/02-speke-v2.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"

content=$(new_content_id speke-v2)
body=$(with_content_id "$EXAMPLES_DIR/02-speke-v2.xml" "$content")
send POST /speke/copyProtection "$body" "X-KMS-Token: $TOKEN" 'X-Speke-Version: 2.0' 'Content-Type: application/xml'
expect_status 200
expect_header X-Speke-Version 2.0
expect_in_response '<cpix:ContentProtectionData>[A-Za-z0-9+/]' 'filled ContentProtectionData'
expect_plain_values $(response_kids)
say "  content $content: $(response_kids | wc -l | tr -d ' ') keys with PlainValue (video, audio), PSSH and ContentProtectionData per system"
