import type { MasterKeyProvider } from '../crypto/kms/master-key';
import type { Store } from '../store/store';
import type { Dependency, Metrics } from './metrics';

type Method = (...args: unknown[]) => unknown;

/**
 * `target` with every method timed: a promise is timed until it settles, a failure (throw or
 * rejection) is counted. The result and the error pass through untouched: metrics never see
 * arguments, results or error messages, which may hold key material.
 */
export function instrumentMethods<T extends object>(target: T, prefix: string, dependency: Dependency, metrics: Metrics): T {
  const wrapped = new Map<PropertyKey, Method>();
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      let method = wrapped.get(property);
      if (!method) {
        const operation = `${prefix}.${property}`;
        const original = value as Method;
        method = (...args: unknown[]) => {
          const started = process.hrtime.bigint();
          const done = (failed: boolean) => metrics.observeDependency(dependency, operation, Number(process.hrtime.bigint() - started) / 1e9, failed);
          let result: unknown;
          try {
            result = original.apply(object, args);
          } catch (error) {
            done(true);
            throw error;
          }
          if (!(result instanceof Promise)) {
            done(false);
            return result;
          }
          return result.then(
            (settled: unknown) => (done(false), settled),
            (error: unknown) => {
              done(true);
              throw error;
            },
          );
        };
        wrapped.set(property, method);
      }
      return method;
    },
  });
}

/**
 * The store with every repository call timed and counted, and keys created counted by dialect: a
 * key request's from its one get-or-create step (which writes its audit record), an import's from
 * the audit record it writes.
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const audit = instrumentMethods(store.audit, 'audit', 'store', metrics);
  const contentKeys = instrumentMethods(store.contentKeys, 'contentKeys', 'store', metrics);
  return {
    kind: store.kind,
    sites: instrumentMethods(store.sites, 'sites', 'store', metrics),
    contentKeys: {
      ...contentKeys,
      async getOrCreateAll(requests, options) {
        const outcome = await contentKeys.getOrCreateAll(requests, options);
        if (outcome.kind === 'obtained' && options?.issue !== undefined) {
          metrics.countKeysCreated(options.issue.audit.dialect, outcome.results.filter((result) => result.created).length);
        }
        return outcome;
      },
    },
    licenseServers: instrumentMethods(store.licenseServers, 'licenseServers', 'store', metrics),
    revocations: instrumentMethods(store.revocations, 'revocations', 'store', metrics),
    policies: instrumentMethods(store.policies, 'policies', 'store', metrics),
    licenceTokenKeys: instrumentMethods(store.licenceTokenKeys, 'licenceTokenKeys', 'store', metrics),
    authFailures: instrumentMethods(store.authFailures, 'authFailures', 'store', metrics),
    masterKeyCheck: instrumentMethods(store.masterKeyCheck, 'masterKeyCheck', 'store', metrics),
    audit: {
      async append(record) {
        const appended = await audit.append(record);
        metrics.countKeysCreated(record.dialect, record.keysCreated);
        return appended;
      },
      list: (siteId, page) => audit.list(siteId, page),
    },
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

/** The master-key provider with every call timed (AWS KMS round trips, or local unwraps). */
export function instrumentMasterKey(provider: MasterKeyProvider, metrics: Metrics): MasterKeyProvider {
  return instrumentMethods(provider, 'masterKey', 'kms', metrics);
}
