#!/usr/bin/env bash
# 05 — PallyCon CPIX API v2 (multi-key): one key per track type (AUDIO, SD, HD), cbcs, with
# Widevine, PlayReady and FairPlay, as the DoveRunner (PallyCon) CPIX API clients send it.
# The server assigns the KIDs (the same ones on every request for this content and track type).
# Spec: DoveRunner (PallyCon) CPIX API guide and its clients (github.com/doverunner/cpix-api-client),
# on DASH-IF CPIX (https://dashif.org/docs/CPIX2.3/Cpix.html); docs/pallycon-api.md.
# Request: 05-pallycon-v2.xml (CPIX@id is the content ID, set per run).
# Usage: examples/05-pallycon-v2.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"

content=$(new_content_id pallycon-v2)
body=$(with_content_id "$EXAMPLES_DIR/05-pallycon-v2.xml" "$content")
send POST "/v2/cpix/pallycon/getKey/$TOKEN" "$body" 'Content-Type: application/xml'
expect_status 200
first=$(response_kids)
[ "$(printf '%s\n' $first | sort -u | wc -l)" -eq 3 ] || fail "expected 3 different KIDs"
expect_plain_values $first
expect_in_response '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">' 'XML-DSig signature'
say "  3 keys (AUDIO, SD, HD) with PlainValue, explicitIV, and Widevine, PlayReady, FairPlay signaling"

# The same request again: the same KIDs (and keys).
send POST "/v2/cpix/pallycon/getKey/$TOKEN" "$body" 'Content-Type: application/xml'
expect_status 200
[ "$(response_kids)" = "$first" ] || fail "a repeated request got other KIDs"
say "  content $content: the repeated request got the same KIDs"
