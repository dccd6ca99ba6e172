/**
 * The dashed textual UUID form (RFC 9562 §4: 8-4-4-4-12 hex digits) in any letter case — CENC KIDs,
 * DASH-IF system IDs, CPIX `UUIDType`. PallyCon's clients send upper case (docs/pallycon-api.md); callers that need a
 * canonical form lower-case it themselves.
 */
const DASHED_UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

export function isUuid(value: string): boolean {
  return DASHED_UUID.test(value);
}
