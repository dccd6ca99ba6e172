import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { RequestInvalid } from '../errors';

/** `schemas/` at the package root; the same relative place from `src/http` and `dist/http`. */
export const SCHEMAS_DIR = resolve(__dirname, '../../schemas');

const SCHEMA_NAMES = [
  'site-create',
  'site-update',
  'token-create',
  'license-server-create',
  'audit-query',
  'content-keys-query',
  'key-import',
  'revoke',
  'revocations-query',
  'policy-create',
  'policy-update',
  'policy-assign',
  'policy-rules',
  'licence-token-key-create',
] as const;

export type SchemaName = (typeof SCHEMA_NAMES)[number];

/** Validates admin request bodies (and query strings) against the JSON Schemas in `schemas/admin/`, compiled once. */
export function loadAdminSchemas(dir: string = join(SCHEMAS_DIR, 'admin')) {
  const ajv = new Ajv({ allErrors: false, strict: true });
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')) as object);
  }
  const compiled = new Map<SchemaName, ValidateFunction>();
  for (const name of SCHEMA_NAMES) {
    const validate = ajv.getSchema(`https://cpix-kms/schemas/admin/${name}.schema.json`);
    if (!validate) throw new Error(`schema ${name} missing from ${dir}`);
    compiled.set(name, validate);
  }

  return {
    /**
     * Returns `body` typed as `T` when it satisfies the schema. `what` names it in the message.
     * @throws RequestInvalid naming the failing property (never echoing its value).
     */
    validate<T>(name: SchemaName, body: unknown, what: 'body' | 'query' = 'body'): T {
      const validate = compiled.get(name);
      if (!validate) throw new Error(`unknown schema ${name}`);
      if (validate(body)) return body as T;
      const [first] = validate.errors ?? [];
      const extra = first?.params && 'additionalProperty' in first.params ? ` (${String(first.params.additionalProperty).slice(0, 64)})` : '';
      throw new RequestInvalid(`${what}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}${extra}`);
    },
  };
}

export type AdminSchemas = ReturnType<typeof loadAdminSchemas>;
