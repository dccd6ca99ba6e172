import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { RequestInvalid } from '../errors';

/** `schemas/` at the package root; the same relative place from `src/http` and `dist/http`. */
export const SCHEMAS_DIR = resolve(__dirname, '../../schemas');

export type SchemaName = 'site-create' | 'site-update' | 'token-create';

/** Validates admin request bodies against the JSON Schemas in `schemas/admin/`, compiled once. */
export function loadAdminSchemas(dir: string = join(SCHEMAS_DIR, 'admin')) {
  const ajv = new Ajv({ allErrors: false, strict: true });
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')) as object);
  }
  const compiled = new Map<SchemaName, ValidateFunction>();
  for (const name of ['site-create', 'site-update', 'token-create'] as const) {
    const validate = ajv.getSchema(`https://cpix-kms/schemas/admin/${name}.schema.json`);
    if (!validate) throw new Error(`schema ${name} missing from ${dir}`);
    compiled.set(name, validate);
  }

  return {
    /**
     * Returns `body` typed as `T` when it satisfies the schema.
     * @throws RequestInvalid naming the failing property (never echoing its value).
     */
    validate<T>(name: SchemaName, body: unknown): T {
      const validate = compiled.get(name);
      if (!validate) throw new Error(`unknown schema ${name}`);
      if (validate(body)) return body as T;
      const [first] = validate.errors ?? [];
      const extra = first?.params && 'additionalProperty' in first.params ? ` (${String(first.params.additionalProperty).slice(0, 64)})` : '';
      throw new RequestInvalid(`body${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}${extra}`);
    },
  };
}

export type AdminSchemas = ReturnType<typeof loadAdminSchemas>;
