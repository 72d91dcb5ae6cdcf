/**
 * `durable-nats/testing` must work with no NATS server anywhere and never open a socket: its
 * import graph (followed statically from src/testing/index.ts) holds no NATS client and no
 * networking module. Type-only imports are not followed (erased from the JavaScript:
 * `verbatimModuleSyntax`); dynamic imports (`await import(...)`, the worker's and the client's
 * NATS path, the metrics server) load only when that path runs.
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
    for (const [, typeOnly, spec] of src.matchAll(/(?:import|export)\s(type\s)?[^'";]*?from\s+'([^']+)'/g)) {
      if (!spec || typeOnly) continue;
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
  expect([...files].filter((f) => /src[\\/]store[\\/](nats-[a-z-]+|lean-publisher|connection|transient|reply-mux|event-log)\.ts$/.test(f))).toEqual([]);
  // The same engine: the test kit's graph holds the production worker and client.
  expect([...files].some((f) => /src[\\/]worker[\\/]worker\.ts$/.test(f))).toBe(true);
  expect([...files].some((f) => /src[\\/]client[\\/]client\.ts$/.test(f))).toBe(true);
});
