/**
 * `durable-nats/testing` must work with no NATS server anywhere and never open a socket: its
 * import graph (followed statically from src/testing/index.ts) holds no NATS client and no
 * networking module.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { expect, it } from 'vitest';

function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const src = readFileSync(file, 'utf8');
    for (const [, spec] of src.matchAll(/(?:import|export)\s[^'";]*?from\s+'([^']+)'|import\('([^']+)'\)/g)) {
      if (!spec) continue;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

it('imports no NATS client and no networking module', () => {
  const { files, packages } = importGraph(join(import.meta.dirname, '../../../src/testing/index.ts'));
  expect(files.size).toBeGreaterThan(5);
  const network = [...packages].filter((p) => /^@nats-io\/|^(node:)?(net|tls|dgram|http|https|http2|dns)$/.test(p));
  expect(network).toEqual([]);
  expect([...files].some((f) => /src[\\/]store[\\/](nats-fabric|hub|lean-publisher|connection)\.ts$/.test(f))).toBe(false);
});
