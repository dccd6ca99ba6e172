import { RequestInvalid } from '../errors';
import type { AuditPage, AuditRecord, AuditRepository, NewAuditRecord } from './ports';

/** Records per page when the caller names no limit. */
export const DEFAULT_AUDIT_PAGE_SIZE = 50;
/** Largest page a caller may ask for. */
export const MAX_AUDIT_PAGE_SIZE = 500;
/**
 * Most bytes of record JSON one page holds (a page whose first record is larger holds only that
 * record). Records are bounded now (`auditSummary`: about 1.5 KB even with a long content ID), so a
 * full page of them fits; records written before the bound list every KID (a 10,000-key request:
 * 390 KB), and 500 of those would make a 195 MB page against the Helm chart's 384 MiB memory limit
 * (about 150 MiB per worker, helm/cpix-kms/README.md). A page is held a few times over while it is
 * answered (records, JSON text, response buffer), which 1 MiB keeps small beside that.
 */
export const AUDIT_PAGE_MAX_BYTES = 1024 * 1024;

export interface AuditListOptions {
  /** 1 … `MAX_AUDIT_PAGE_SIZE`; default `DEFAULT_AUDIT_PAGE_SIZE`. */
  readonly limit?: number;
  /** The `next` cursor of the previous page. */
  readonly before?: string;
}

/** The audit trail: written by the key-exchange routes, read by operators. */
export function createAuditService(deps: { readonly repository: AuditRepository }) {
  const { repository } = deps;
  return {
    /**
     * Appends a record durably. Errors propagate: a caller that cannot audit must not hand out the
     * keys (fail closed).
     * @throws DependencyUnavailable when the store cannot confirm the write.
     */
    async record(record: NewAuditRecord): Promise<AuditRecord> {
      return repository.append(record);
    },

    /**
     * A site's records, newest first, at most `limit` and `AUDIT_PAGE_MAX_BYTES` per page. The site
     * is not looked up here.
     * @throws RequestInvalid for a limit out of range or a cursor this service did not issue.
     */
    async list(siteId: string, options: AuditListOptions = {}): Promise<AuditPage> {
      const { limit = DEFAULT_AUDIT_PAGE_SIZE, before } = options;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE_SIZE) {
        throw new RequestInvalid(`limit must be an integer from 1 to ${MAX_AUDIT_PAGE_SIZE}`);
      }
      return repository.list(siteId, { limit, maxBytes: AUDIT_PAGE_MAX_BYTES, ...(before !== undefined && { before }) });
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
