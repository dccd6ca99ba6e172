#!/usr/bin/env bash
# 06 — PallyCon CPIX API v2 with key rotation (?key-rotation=true): AUDIO and HD keys for crypto
# period 1 and then period 2 of a live stream, as the DoveRunner (PallyCon) CPIX API clients send it
# (one ContentKeyPeriod per key, all with the period's index). Sent to DoveRunner's name of the
# route, /v2/cpix/doverunner/getKey/TOKEN (the same as /v2/cpix/pallycon/getKey/TOKEN).
# Spec: DoveRunner (PallyCon) CPIX API guide and its clients (github.com/doverunner/cpix-api-client),
# on DASH-IF CPIX (https://dashif.org/docs/CPIX2.3/Cpix.html); docs/pallycon-api.md.
# Request: 06-pallycon-rotation.xml (CPIX@id set per run; period index 1, then 2).
# Usage: examples/06-pallycon-rotation.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"

content=$(new_content_id pallycon-rotation)
body=$(with_content_id "$EXAMPLES_DIR/06-pallycon-rotation.xml" "$content")
send POST "/v2/cpix/doverunner/getKey/$TOKEN?key-rotation=true" "$body" 'Content-Type: application/xml'
expect_status 200
period1=$(response_kids)
[ "$(printf '%s\n' $period1 | wc -l)" -eq 2 ] || fail "expected 2 keys"
expect_plain_values $period1
say "  period 1: KIDs" $period1

sed 's/index="1"/index="2"/g' "$body" > "$WORK/period-2.xml"
mv "$WORK/period-2.xml" "$body"
send POST "/v2/cpix/doverunner/getKey/$TOKEN?key-rotation=true" "$body" 'Content-Type: application/xml'
expect_status 200
expect_in_response 'index="2"' 'period index 2'
period2=$(response_kids)
say "  period 2: KIDs" $period2
[ "$(printf '%s\n' $period1 $period2 | sort -u | wc -l)" -eq 4 ] || fail "period 2 did not get new KIDs"
say "  content $content: every period has its own keys"
