#!/usr/bin/env bash
# 03 — SPEKE v2.1 with key periods: a live channel with key rotation every 5 minutes, as AWS
# Elemental MediaPackage v2 asks for it — the current period and, ahead of time, the next one, each
# request with its own KIDs, its ContentKeyPeriod@index and the period's wall-clock @start/@end.
# HLS/CMAF cbcs with Widevine and FairPlay; contract PRESET_VIDEO_2 (SD, HD) + PRESET_AUDIO_1.
# Spec: AWS SPEKE API v2.1 (https://docs.aws.amazon.com/speke/latest/documentation/the-speke-api-v2-1.html):
# X-Speke-Version: 2.1 and DASH-IF CPIX 2.4 (https://dashif.org/docs/CPIX2.4/Cpix.html).
# Request: 03-speke-v21-periods.xml; this script sets the content ID, new KIDs per period, and the
# period's index (Unix time / 300) with its start and end.
# Usage: examples/03-speke-v21-periods.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"

interval=300
content=$(new_content_id speke-v21)
template=$(with_content_id "$EXAMPLES_DIR/03-speke-v21-periods.xml" "$content")
now=$(date +%s)
all_kids=""
for index in $(( now / interval )) $(( now / interval + 1 )); do
  start=$(utc_time $(( index * interval )))
  end=$(utc_time $(( (index + 1) * interval )))
  body="$WORK/03-speke-v21-periods.xml"
  sed -E "s/index=\"[0-9]+\" start=\"[^\"]*\" end=\"[^\"]*\"/index=\"$index\" start=\"$start\" end=\"$end\"/" "$template" > "$body.tmp"
  # A KID names one key of one period: MediaPackage asks for new ones every period.
  for old in $(sed -n 's/.*<cpix:ContentKey kid="\([^"]*\)".*/\1/p' "$template"); do
    sed -i.bak "s/$old/$(new_uuid)/g" "$body.tmp"
  done
  mv "$body.tmp" "$body"
  say ""
  say "period $index: $start – $end"
  send POST /speke/copyProtection "$body" "Authorization: Bearer $TOKEN" 'X-Speke-Version: 2.1' 'Content-Type: application/xml'
  expect_status 200
  expect_header X-Speke-Version 2.1
  expect_in_response "<cpix:ContentKeyPeriod [^>]*index=\"$index\"" "ContentKeyPeriod with index $index"
  expect_in_response '<cpix:HLSSignalingData playlist="multiVariant">[A-Za-z0-9+/]' 'filled HLSSignalingData (multivariant playlist)'
  expect_in_response 'explicitIV="[A-Za-z0-9+/]{22}=="' 'explicitIV'
  kids=$(response_kids)
  expect_plain_values $kids
  say "  period $index: $(printf '%s\n' $kids | wc -l | tr -d ' ') keys (SD, HD, AUDIO) with PlainValue and explicitIV"
  all_kids="$all_kids $kids"
done
[ "$(printf '%s\n' $all_kids | sort -u | wc -l)" -eq 6 ] || fail "expected 6 different KIDs over two periods"
say "  content $content: two periods, six keys"
