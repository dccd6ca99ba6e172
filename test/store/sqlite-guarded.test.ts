import Database from 'better-sqlite3';

/**
 * `guarded` must recognise SQLite engine errors whichever copy of better-sqlite3 it was loaded with:
 * the native addon keeps throwing the SqliteError class of the first copy loaded in the process. The
 * CI run of the audit fail-closed test showed the failure mode: a second test file in the same jest
 * worker got 500 instead of 503 for a refused audit insert.
 */
describe('guarded (SQLite failures → DependencyUnavailable)', () => {
  type Guarded = typeof import('../../src/store/sqlite/guarded').guarded;
  let db: Database.Database;
  beforeAll(() => {
    db = new Database(':memory:');
  });
  afterAll(() => db.close());

  const loadGuarded = (isolated: boolean): Guarded => {
    if (!isolated) return (jest.requireActual('../../src/store/sqlite/guarded') as { guarded: Guarded }).guarded;
    let loaded: Guarded | undefined;
    // A fresh module registry: guarded's own better-sqlite3 is a second copy, whose SqliteError class
    // the addon (already initialised by the import above) never throws.
    jest.isolateModules(() => {
      loaded = (jest.requireActual('../../src/store/sqlite/guarded') as { guarded: Guarded }).guarded;
    });
    if (!loaded) throw new Error('guarded did not load');
    return loaded;
  };

  it.each([
    ['the same module registry', false],
    ['a second copy of the modules', true],
  ])('turns an engine error into ERR_STORE_UNAVAILABLE when loaded from %s', (_name, isolated) => {
    const guarded = loadGuarded(isolated);
    let thrown: unknown;
    try {
      guarded(() => db.exec('SELECT * FROM no_such_table'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'DependencyUnavailable', code: 'ERR_STORE_UNAVAILABLE', message: 'key store unavailable' });
  });

  it('lets other errors through unchanged', () => {
    const guarded = loadGuarded(true);
    const own = Object.assign(new Error('not sqlite'), { code: 'SQLITE_LOOKALIKE' });
    expect(() => guarded(() => { throw own; })).toThrow(own);
  });
});
