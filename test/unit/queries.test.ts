// Named (prepared) statements are per connection: a name reused for other SQL fails at run time
// ("Prepared statements must be unique"), and only on a connection that ran the other one first.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

describe('named SQL statements', () => {
  it('every statement name is used by one statement only', () => {
    const names = new Map<string, string[]>();
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          for (const m of fs.readFileSync(p, 'utf8').matchAll(/\bname: '([A-Za-z0-9_]+)',\s*\n?\s*text:/g)) {
            names.set(m[1]!, [...(names.get(m[1]!) ?? []), p]);
          }
        }
      }
    };
    for (const d of ['app', 'db', 'jobs']) walk(d);
    assert.ok(names.size >= 20, `found only ${names.size} named statements`);
    assert.deepEqual([...names].filter(([, files]) => files.length > 1), []);
  });
});
