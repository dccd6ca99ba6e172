#!/usr/bin/env bash
# 04 — PallyCon CPIX API v1 (single key): one key for all tracks (intendedTrackType HD, no
# encryption scheme) with Widevine, PlayReady and FairPlay, as the DoveRunner (PallyCon) CPIX API
# clients send it for ALL_TRACKS; the PallyCon packager and Wowza module use the legacy path
# /cpix/pallycon/getKey/TOKEN for the same request.
# Spec: DoveRunner (PallyCon) CPIX API guide and its clients (github.com/doverunner/cpix-api-client),
# on DASH-IF CPIX (https://dashif.org/docs/CPIX2.3/Cpix.html); docs/pallycon-api.md.
# Request: 04-pallycon-v1.xml (CPIX@id is the content ID, set per run; the server replaces the KID).
# Usage: examples/04-pallycon-v1.sh BASE_URL TOKEN
source "$(dirname "$0")/lib.sh"

content=$(new_content_id pallycon-v1)
body=$(with_content_id "$EXAMPLES_DIR/04-pallycon-v1.xml" "$content")
send POST "/v1/cpix/pallycon/getKey/$TOKEN" "$body" 'Content-Type: application/xml'
expect_status 200
kid=$(response_kids | head -n 1)
expect_plain_values "$kid"
expect_in_response 'explicitIV="[A-Za-z0-9+/]{22}=="' 'explicitIV'
expect_in_response '<cpix:URIExtXKey>[A-Za-z0-9+/]' 'FairPlay URIExtXKey'
expect_in_response '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">' 'XML-DSig signature'
say "  content $content: server-assigned KID $kid with PlainValue and explicitIV; signed answer"
