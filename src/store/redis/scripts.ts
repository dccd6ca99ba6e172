import type { Cluster, Redis, Result } from 'ioredis';

/**
 * Lua scripts for every write that must be atomic. Each script touches only the keys of one site
 * (one hash tag, so one Cluster slot) or one global key, which keeps them legal in Redis Cluster.
 * Registered with ioredis `defineCommand`: sent as EVALSHA, falling back to EVAL once per connection.
 */

declare module 'ioredis' {
  // Merges into ioredis' command interface, so Redis, Cluster and pipelines all gain these methods.
  interface RedisCommander<Context> {
    /** 1 created; 0 the ID is taken by another site. */
    cpixCreateSite(
      record: string,
      siteKeys: string,
      accessKeyHash: string,
      siteFieldCount: number,
      ...fieldsThenSiteKeys: string[]
    ): Result<number, Context>;
    /** 1 updated; 0 no such site. */
    cpixUpdateSite(record: string, ...fields: string[]): Result<number, Context>;
    /** 1 counted; 0 no such site (nothing is created). */
    cpixCountSiteChange(record: string): Result<number, Context>;
    /** 1 added; 0 the current version is not the expected one. */
    cpixAddSiteKey(
      record: string,
      siteKeys: string,
      expectedCurrentVersion: number,
      version: number,
      encodedSiteKey: string,
    ): Result<number, Context>;
    /** The insertion number given to the credential (KMS token or license server) in its site index. */
    cpixIndexCredential(index: string, sequence: string, credentialId: string): Result<number, Context>;
    /** 1 revoked (now or before); 0 the site has no such credential. */
    cpixRevokeCredential(record: string, siteId: string, revokedAt: string): Result<number, Context>;
    /** 1 recorded; 0 no such credential. */
    cpixTouchCredential(record: string, usedAt: string): Result<number, Context>;
    /** The ID given to the audit record (the site sequence number). */
    cpixAppendAudit(audit: string, sequence: string, recordJson: string): Result<number, Context>;
    /** `[members of the page, newest first, 1 if older records remain else 0]`. */
    cpixListAudit(audit: string, max: string, limit: number, maxBytes: number): Result<[string[], number], Context>;
    /**
     * When nothing was created: `[['stale']]`, `[['imported'], KIDs
     * per record ('' where none)]`, `[['revoked' | 'exists' | 'iv', index]]` (0-based) or
     * `[['limit', ms until the window closes]]`; otherwise per record, in order, `[]` created or the
     * stored record's `[field, value, …]`. Keys and arguments: see the script.
     */
    cpixGetOrCreateAll(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Result<(string | number)[][], Context>;
    /** `[count, ms until the window closes]` after adding one failure. */
    cpixRecordAuthFailure(counter: string, windowMs: number): Result<[number, number], Context>;
    /** 1 recorded; 0 every target was revoked already. */
    cpixRevoke(revoked: string, log: string, revocationJson: string, atMs: number, ...targets: string[]): Result<number, Context>;
    cpixDeletePolicy(policies: string, rules: string, users: string, name: string): Result<'missing' | 'in-use' | 'deleted', Context>;
    /** 1 replaced; 0 no such policy. */
    cpixReplacePolicy(policies: string, name: string, policyJson: string): Result<number, Context>;
    /** The first named policy that does not exist, or '' when the rules were set. */
    cpixSetPolicyRules(policies: string, rules: string, rulesJson: string, ...names: string[]): Result<string, Context>;
    /** The new policy name when it does not exist, 'moved' on a race, '' when assigned. */
    cpixAssignPolicy(
      policies: string,
      contentPolicies: string,
      oldUsers: string,
      newUsers: string,
      contentId: string,
      policy: string,
      expectedCurrent: string,
    ): Result<string, Context>;
    /** 1 replaced; 0 the record holds another wrapped key or is gone. */
    cpixReplaceWrappedKey(
      record: string,
      expectedWrappedKey: string,
      siteKeyVersion: number,
      wrappedKey: string,
    ): Result<number, Context>;
  }
}

// KEYS: site record, site keys. ARGV: access-key hash, number of site fields, site field/value
// pairs, then version/site-key pairs. A replay of the same create (same random access-key hash),
// e.g. a command resent after a lost reply, is reported as created rather than as a conflict.
const CREATE_SITE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'accessKeyHash') == ARGV[1] then return 1 end
  return 0
end
local n = tonumber(ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, n + 2))
if #ARGV > n + 2 then redis.call('HSET', KEYS[2], unpack(ARGV, n + 3)) end
return 1`;

// KEYS: site record. ARGV: field/value pairs (never empty: updatedAt is always set). Every change
// counts in 'revision' (SiteRecord.revision).
const UPDATE_SITE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('HINCRBY', KEYS[1], 'revision', 1)
return 1`;

// KEYS: site record. Counts a change of what key requests depend on besides the record itself (the
// site's content policies), in 'revision'; never creates a record for an unknown site.
const COUNT_SITE_CHANGE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'revision', 1)
return 1`;

// KEYS: site record, site keys. ARGV: expected current version, new version, encoded site key.
const ADD_SITE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = nil
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  local version = tonumber(field)
  if current == nil or version > current then current = version end
end
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'revision', 1)
return 1`;

// KEYS: site index (tokens or license servers), site sequence. ARGV: credential ID.
const INDEX_CREDENTIAL = `
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], 'NX', seq, ARGV[1])
return seq`;

// KEYS: credential record. ARGV: site ID, revokedAt. HSETNX keeps the first revocation time.
const REVOKE_CREDENTIAL = `
if redis.call('HGET', KEYS[1], 'siteId') ~= ARGV[1] then return 0 end
redis.call('HSETNX', KEYS[1], 'revokedAt', ARGV[2])
return 1`;

// KEYS: credential record. ARGV: usedAt. Never creates a record for an unknown credential.
const TOUCH_CREDENTIAL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1])
return 1`;

// KEYS: site contents index, site sequence, site creation window (hash: count, resets), site
// record, site revoked credentials, site audit, then per record: record, per-content index, the
// content's revoked targets, the content's imported slots. ARGV: creation limit per window (0: none),
// window ms, now (epoch ms, the service's clock like every other time it stores), the credential ID
// of a key request ('' for none: then neither the site nor the credential is checked), the site
// revision it was authenticated with, its audit record around its keysCreated value (head, tail; ''
// for none), then per record: content ID, KID,
// '1' when the stored IV must equal the given one, the given IV field ('' for none), '1' when the
// record must be new, the import slot to record ('' for none), the slot its KID was assigned for
// ('' for none), number of field/value items, the items. All of one site (one hash tag), so a whole
// key request, its checks, its keys and its audit record, is one atomic step, one AOF write and one
// round trip: a refused request creates nothing. Scores come from one counter per site, so every
// index lists oldest first.
const GET_OR_CREATE_ALL = `
local limit, windowMs, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local credential, revision, auditHead, auditTail = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if credential ~= '' then
  local site = redis.call('HMGET', KEYS[4], 'status', 'revision')
  if site[1] ~= 'active' or (site[2] or '0') ~= revision or redis.call('HEXISTS', KEYS[5], credential) == 1 then
    return {{'stale'}}
  end
end
local importedKids, imported = {}, false
local arg = 8
for first = 7, #KEYS, 4 do
  local assigned, kid = ARGV[arg + 6], ''
  if assigned ~= '' then
    kid = redis.call('HGET', KEYS[first + 3], assigned) or ''
    if kid ~= '' and kid ~= ARGV[arg + 1] then imported = true end
  end
  importedKids[#importedKids + 1] = kid
  arg = arg + 8 + tonumber(ARGV[arg + 7])
end
if imported then return {{'imported'}, importedKids} end
local fresh = 0
arg = 8
for first = 7, #KEYS, 4 do
  local index = (first - 7) / 4
  local record, revoked = KEYS[first], KEYS[first + 2]
  if redis.call('HEXISTS', revoked, '*') == 1 or redis.call('HEXISTS', revoked, ARGV[arg + 1]) == 1 then return {{'revoked', index}} end
  if redis.call('EXISTS', record) == 1 then
    if ARGV[arg + 4] == '1' then return {{'exists', index}} end
    if ARGV[arg + 2] == '1' and (redis.call('HGET', record, 'iv') or '') ~= ARGV[arg + 3] then return {{'iv', index}} end
  else
    fresh = fresh + 1
  end
  arg = arg + 8 + tonumber(ARGV[arg + 7])
end
if fresh > 0 and limit > 0 then
  local window = redis.call('HMGET', KEYS[3], 'count', 'resets')
  local used, resets = tonumber(window[1] or '0'), tonumber(window[2] or '0')
  if resets <= now then used, resets = 0, now + windowMs end
  if used + fresh > limit then return {{'limit', resets - now}} end
  redis.call('HSET', KEYS[3], 'count', used + fresh, 'resets', resets)
  -- Only so a closed window does not stay behind; its end is decided by 'resets'.
  redis.call('PEXPIRE', KEYS[3], resets - now)
end
local answers, created = {}, 0
arg = 8
for first = 7, #KEYS, 4 do
  local record, contentIndex, importedSlots = KEYS[first], KEYS[first + 1], KEYS[first + 3]
  local contentId, kid, slot, count = ARGV[arg], ARGV[arg + 1], ARGV[arg + 5], tonumber(ARGV[arg + 7])
  if redis.call('EXISTS', record) == 1 then
    answers[#answers + 1] = redis.call('HGETALL', record)
  else
    local seq = redis.call('INCR', KEYS[2])
    redis.call('HSET', record, 'seq', seq, unpack(ARGV, arg + 8, arg + 7 + count))
    redis.call('ZADD', contentIndex, seq, kid)
    redis.call('ZADD', KEYS[1], 'NX', seq, contentId)
    if slot ~= '' then redis.call('HSET', importedSlots, slot, kid) end
    answers[#answers + 1] = {}
    created = created + 1
  end
  arg = arg + 8 + count
end
if auditHead ~= '' then
  local id = string.format('%d', redis.call('INCR', KEYS[2]))
  redis.call('ZADD', KEYS[6], id, '{"id":"' .. id .. '",' .. auditHead .. string.format('%d', created) .. auditTail)
end
return answers`;

// KEYS: the content's revoked targets, the site's revocation log. ARGV: the revocation JSON, its
// time (epoch ms), then the targets ('*' for the whole content, or KIDs). A target already revoked
// keeps its first revocation; a content revoked as a whole takes no KID revocations. 1 when any
// target was recorded (then the revocation is logged once), 0 otherwise.
const REVOKE = `
if redis.call('HEXISTS', KEYS[1], '*') == 1 then return 0 end
local recorded = 0
for i = 3, #ARGV do
  recorded = recorded + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1])
end
if recorded > 0 then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
return recorded > 0 and 1 or 0`;

// KEYS: site policies hash, site policy rules, the policy's users set. ARGV: policy name. 'missing',
// 'in-use' (assigned to a content or named by a rule), or 'deleted'.
const DELETE_POLICY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'missing' end
if redis.call('SCARD', KEYS[3]) > 0 then return 'in-use' end
local rules = redis.call('GET', KEYS[2])
if rules then
  for _, rule in ipairs(cjson.decode(rules)) do
    if rule.policy == ARGV[1] then return 'in-use' end
  end
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 'deleted'`;

// KEYS: site policies hash. ARGV: policy name, policy JSON. 1 replaced; 0 no such policy (a
// concurrent delete is not undone).
const REPLACE_POLICY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

// KEYS: site policies hash, site policy rules. ARGV: the rules JSON, then the policy names it uses.
// The first name that is no policy, or '' when all exist and the rules were replaced.
const SET_POLICY_RULES = `
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then return ARGV[i] end
end
redis.call('SET', KEYS[2], ARGV[1])
return ''`;

// KEYS: site policies hash, site content-policy hash, the old policy's users set, the new policy's
// users set (or the old one again when unassigning). ARGV: content ID, new policy name ('' to
// unassign), old policy name as the caller read it. The new name when it is no policy, 'moved' when
// another assignment raced (the caller reads again), or '' when done.
const ASSIGN_POLICY = `
local current = redis.call('HGET', KEYS[2], ARGV[1]) or ''
if current ~= ARGV[3] then return 'moved' end
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return ARGV[2] end
if current ~= '' then redis.call('SREM', KEYS[3], ARGV[1]) end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[4], ARGV[1])
end
return ''`;

// KEYS: record. ARGV: expected wrapped key (base64), new site-key version, new wrapped key.
const REPLACE_WRAPPED_KEY = `
if redis.call('HGET', KEYS[1], 'wrappedKey') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'siteKeyVersion', ARGV[2], 'wrappedKey', ARGV[3])
return 1`;

// KEYS: site audit zset, site sequence. ARGV: the record as a JSON object without its ID. The ID is
// taken from the site counter in the same step and spliced in as the first property, so the ID
// order is the append order (Redis runs scripts one at a time) and each member is unique.
const APPEND_AUDIT = `
local id = redis.call('INCR', KEYS[2])
local text = string.format('%d', id)
redis.call('ZADD', KEYS[1], text, '{"id":"' .. text .. '",' .. string.sub(ARGV[1], 2))
return id`;

// KEYS: site audit zset. ARGV: highest score to read ('+inf', or '(<id>' for records older than a
// cursor), most records, byte budget. Reads one member at a time, newest first, and stops at the
// page's end: at most the limit, and no member that would take the page past the budget, except the
// page's first (a record written before the audit bound can be larger than the budget on its own).
// So neither Redis nor the service holds more than the budget and one record, however large the old
// records are. One member beyond the page is read only to learn that older records remain.
const LIST_AUDIT = `
local max, limit, budget = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local page, used = {}, 0
while true do
  local found = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local member = found[1]
  if member == nil then return {page, 0} end
  if #page == limit or (#page > 0 and used + #member > budget) then return {page, 1} end
  page[#page + 1] = member
  used = used + #member
  max = '(' .. found[2]
end`;

// KEYS: failure counter. ARGV: window length (ms). The first failure opens the window (the TTL is set
// only then, so later failures do not extend it); Redis expires the counter when it closes.
const RECORD_AUTH_FAILURE = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

const SCRIPTS = {
  cpixCreateSite: { numberOfKeys: 2, lua: CREATE_SITE },
  cpixUpdateSite: { numberOfKeys: 1, lua: UPDATE_SITE },
  cpixCountSiteChange: { numberOfKeys: 1, lua: COUNT_SITE_CHANGE },
  cpixAddSiteKey: { numberOfKeys: 2, lua: ADD_SITE_KEY },
  cpixIndexCredential: { numberOfKeys: 2, lua: INDEX_CREDENTIAL },
  cpixRevokeCredential: { numberOfKeys: 1, lua: REVOKE_CREDENTIAL },
  cpixTouchCredential: { numberOfKeys: 1, lua: TOUCH_CREDENTIAL },
  // The caller passes the number of keys: it varies with the number of records.
  cpixGetOrCreateAll: { lua: GET_OR_CREATE_ALL },
  cpixReplaceWrappedKey: { numberOfKeys: 1, lua: REPLACE_WRAPPED_KEY },
  cpixAppendAudit: { numberOfKeys: 2, lua: APPEND_AUDIT },
  cpixListAudit: { numberOfKeys: 1, lua: LIST_AUDIT },
  cpixRecordAuthFailure: { numberOfKeys: 1, lua: RECORD_AUTH_FAILURE },
  cpixRevoke: { numberOfKeys: 2, lua: REVOKE },
  cpixDeletePolicy: { numberOfKeys: 3, lua: DELETE_POLICY },
  cpixReplacePolicy: { numberOfKeys: 1, lua: REPLACE_POLICY },
  cpixSetPolicyRules: { numberOfKeys: 2, lua: SET_POLICY_RULES },
  cpixAssignPolicy: { numberOfKeys: 4, lua: ASSIGN_POLICY },
} as const;

/** Registers the store's scripts on a client (a Cluster passes them on to its node connections). */
export function defineStoreScripts(client: Redis | Cluster): void {
  for (const [name, definition] of Object.entries(SCRIPTS)) client.defineCommand(name, definition);
}
