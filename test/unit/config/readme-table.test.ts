import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configurationTable, SETTINGS } from '../../../src/config/settings';

/** The README's configuration table is the one the settings schema makes (`npm run config-table`). */
describe('README configuration table', () => {
  const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');

  it('is exactly the table made from SETTINGS', () => {
    const start = readme.indexOf('| Variable | Default | Meaning |');
    expect(start).toBeGreaterThan(-1);
    const end = readme.indexOf('\n\n', start);
    expect(readme.slice(start, end)).toBe(configurationTable());
  });

  it('has a row for every setting, and every default it shows is the validated one', () => {
    const table = configurationTable();
    for (const [name, setting] of Object.entries(SETTINGS)) {
      expect(table).toContain(`| \`${name}\``);
      if ('default' in setting && !('defaultText' in setting)) expect(table).toContain(`| \`${String(setting.default)}\` |`);
    }
  });
});
