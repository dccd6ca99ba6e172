/**
 * `/admin/v1` routes of a content's key lifecycle (docs/content-policies.md): key import,
 * revocation, the revocation listing license servers poll, and content policies (DRM groups) with
 * their rules and assignments. Mounted by `adminRoutes`, behind its admin token and JSON parser.
 */

import { Router, type Request, type Response } from 'express';
import type { PolicyService } from '../../content-policy/policy-service';
import type { ContentPolicy, PolicyRule } from '../../content-policy/ports';
import { NotFound } from '../../errors';
import type { ContentKeyMetadata, ContentKeyService } from '../../keys/content-key-service';
import { parseKeyId } from '../../keys/key-id';
import type { Actor, ContentLifecycle } from '../../lifecycle/content-lifecycle';
import { keyImportsFrom, type KeyImportItem } from '../../lifecycle/key-import';
import type { Revocation } from '../../revocation/ports';
import { isRevoked, standingRevocations, type RevocationService } from '../../revocation/revocation-service';
import type { SiteService } from '../../sites/site-service';
import { contentIdParam, policyNameParam, siteIdParam } from '../admin-params';
import type { AdminSchemas } from '../json-schemas';
import { clientAddress } from '../request-context';

export interface AdminContentDeps {
  readonly sites: SiteService;
  readonly contentKeys: ContentKeyService;
  readonly lifecycle: ContentLifecycle;
  readonly revocations: RevocationService;
  readonly policies: PolicyService;
  readonly schemas: AdminSchemas;
}

/** The audit trail's name for whoever holds the admin token (there is one admin credential). */
export const ADMIN_CREDENTIAL_ID = 'admin';

function actorOf(req: Request, res: Response): Actor {
  return { credentialId: ADMIN_CREDENTIAL_ID, clientAddress: clientAddress(req), requestId: res.locals.requestId as string };
}

/** A key's metadata as the admin API shows it: never key bytes or IVs; a revoked key says when and why. */
function keyJson(key: ContentKeyMetadata, revocation: Revocation | undefined) {
  return {
    kid: key.kid,
    ...(key.trackType !== undefined && { trackType: key.trackType }),
    ...(key.periodIndex !== undefined && { periodIndex: key.periodIndex }),
    ...(key.scheme !== undefined && { scheme: key.scheme }),
    createdAt: key.createdAt,
    ...(revocation !== undefined && { revokedAt: revocation.revokedAt, revocationReason: revocation.reason }),
  };
}

export function adminContentRoutes(deps: AdminContentDeps): Router {
  const { sites, contentKeys, lifecycle, revocations, policies, schemas } = deps;
  const router = Router();

  /** The site's ID from the path, once the site is known to exist (404 otherwise). */
  async function existingSite(value: string | undefined): Promise<string> {
    const siteId = siteIdParam(value);
    await sites.getSite(siteId);
    return siteId;
  }

  router.get('/sites/:siteId/contents/:contentId/keys', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const contentId = contentIdParam(req.params.contentId);
    const query = schemas.validate<{ readonly limit?: string; readonly after?: string }>('content-keys-query', req.query, 'query');
    // A page at a time: a live content gains keys with every key period, without end.
    const [{ keys, next }, revoked] = await Promise.all([
      contentKeys.listMetadataPage(siteId, contentId, {
        ...(query.limit !== undefined && { limit: Number(query.limit) }),
        ...(query.after !== undefined && { after: query.after }),
      }),
      revocations.state(siteId, contentId),
    ]);
    if (keys.length === 0 && query.after === undefined) throw new NotFound('no keys for this content');
    res.json({
      siteId,
      contentId,
      ...(revoked.content !== undefined && { revokedAt: revoked.content.revokedAt, revocationReason: revoked.content.reason }),
      keys: keys.map((key) => keyJson(key, isRevoked(revoked, key.kid) ? (revoked.content ?? revoked.kids.get(key.kid)) : undefined)),
      ...(next !== undefined && { next }),
    });
  });

  router.post('/sites/:siteId/contents/:contentId/keys', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const contentId = contentIdParam(req.params.contentId);
    const body = schemas.validate<{ readonly keys: readonly KeyImportItem[] }>('key-import', req.body);
    const { created, keys } = await lifecycle.importKeys(actorOf(req, res), siteId, contentId, keyImportsFrom(body.keys));
    res.status(created ? 201 : 200).json({ siteId, contentId, keys: keys.map((key) => keyJson(key, undefined)) });
  });

  router.post('/sites/:siteId/contents/:contentId/revoke', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const contentId = contentIdParam(req.params.contentId);
    const body = schemas.validate<{ readonly reason: string; readonly kids?: readonly string[] }>('revoke', req.body);
    const { recorded } = await lifecycle.revoke(actorOf(req, res), siteId, contentId, {
      reason: body.reason,
      ...(body.kids !== undefined && { kids: body.kids.map(parseKeyId) }),
    });
    // 201 when this request revoked something; either way the content's standing revocations.
    res.status(recorded ? 201 : 200).json({ siteId, contentId, revocations: standingRevocations(await revocations.state(siteId, contentId)) });
  });

  router.get('/sites/:siteId/revocations', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const query = schemas.validate<{ readonly since?: string }>('revocations-query', req.query, 'query');
    res.json({ revocations: await revocations.listSince(siteId, query.since) });
  });

  router.get('/sites/:siteId/contents/:contentId/policy', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const contentId = contentIdParam(req.params.contentId);
    res.json({ siteId, contentId, policy: (await policies.policyOf(siteId, contentId)) ?? null });
  });

  router.put('/sites/:siteId/contents/:contentId/policy', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const contentId = contentIdParam(req.params.contentId);
    const body = schemas.validate<{ readonly policy: string | null }>('policy-assign', req.body);
    await lifecycle.assignPolicy(actorOf(req, res), siteId, contentId, body.policy ?? undefined);
    res.json({ siteId, contentId, policy: (await policies.policyOf(siteId, contentId)) ?? null });
  });

  router.post('/sites/:siteId/policies', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const body = schemas.validate<ContentPolicy>('policy-create', req.body);
    res.status(201).json(await lifecycle.createPolicy(actorOf(req, res), siteId, body));
  });

  router.get('/sites/:siteId/policies', async (req, res) => {
    res.json({ policies: await policies.list(await existingSite(req.params.siteId)) });
  });

  router.get('/sites/:siteId/policies/:name', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    res.json(await policies.get(siteId, policyNameParam(req.params.name)));
  });

  router.patch('/sites/:siteId/policies/:name', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const name = policyNameParam(req.params.name);
    const body = schemas.validate<Partial<Omit<ContentPolicy, 'name'>>>('policy-update', req.body);
    res.json(await lifecycle.updatePolicy(actorOf(req, res), siteId, name, body));
  });

  router.delete('/sites/:siteId/policies/:name', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    await lifecycle.deletePolicy(actorOf(req, res), siteId, policyNameParam(req.params.name));
    res.status(204).end();
  });

  router.get('/sites/:siteId/policy-rules', async (req, res) => {
    res.json(await policies.rules(await existingSite(req.params.siteId)));
  });

  router.put('/sites/:siteId/policy-rules', async (req, res) => {
    const siteId = await existingSite(req.params.siteId);
    const rules = schemas.validate<readonly PolicyRule[]>('policy-rules', req.body);
    res.json(await lifecycle.setPolicyRules(actorOf(req, res), siteId, rules));
  });

  return router;
}
