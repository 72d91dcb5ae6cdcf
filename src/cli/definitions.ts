/**
 * What `dev` and `worker` host: the example entities (counter, aggregator) and whatever
 * orchestrations/index exports (orchestrations, activities and the entities they use), or the arrays exported by a user's --module.
 * Invariant: a missing orchestrations/index is "no orchestrations", but an index that exists
 * and fails to load is an error (never silently hosting less than the user wrote).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { aggregator } from '../../entities/aggregator.js';
import { counter } from '../../entities/counter.js';
import { DurableError } from '../core/errors.js';
import type { EntityDefinition } from '../entity/definition.js';
import type { ActivityDefinition, OrchestrationDefinition } from '../orchestration/definition.js';

export interface Definitions {
  entities: EntityDefinition<any>[];
  orchestrations: OrchestrationDefinition[];
  activities: ActivityDefinition[];
}

/** Collects definitions from a module's exports: single definitions, arrays, or a default object. */
export function collectDefinitions(mod: Record<string, unknown>): Definitions {
  const out: Definitions = { entities: [], orchestrations: [], activities: [] };
  const seen = new Set<unknown>();
  const visit = (v: unknown, depth: number): void => {
    if (!v || typeof v !== 'object' || seen.has(v) || depth > 2) return;
    seen.add(v);
    if (Array.isArray(v)) return v.forEach((x) => visit(x, depth + 1));
    const kind = (v as { kind?: unknown }).kind;
    if (kind === 'orchestration') out.orchestrations.push(v as OrchestrationDefinition);
    else if (kind === 'activity') out.activities.push(v as ActivityDefinition);
    else if (kind === 'entity') out.entities.push(v as EntityDefinition<any>);
    else if (kind === undefined) Object.values(v).forEach((x) => visit(x, depth + 1));
  };
  Object.values(mod).forEach((x) => visit(x, 0));
  return out;
}

/** Lets a .ts module be imported when running from dist (tsx is a dev dependency). */
async function allowTypeScript(): Promise<void> {
  try {
    const tsx = (await import('tsx/esm/api')) as { register: () => unknown };
    tsx.register();
  } catch {
    /* without tsx only .js modules load; the import below says so */
  }
}

export async function loadModule(path: string): Promise<Definitions> {
  const file = resolve(process.cwd(), path);
  if (!existsSync(file)) throw new DurableError('validation', `--module: no file ${file}`);
  if (/\.[cm]?ts$/.test(file)) await allowTypeScript();
  return collectDefinitions((await import(pathToFileURL(file).href)) as Record<string, unknown>);
}

/** The examples of this repository: entities/ and, if present, orchestrations/index. */
export async function loadExamples(): Promise<Definitions> {
  const defs: Definitions = { entities: [counter, aggregator], orchestrations: [], activities: [] };
  const index = new URL('../../orchestrations/index.js', import.meta.url);
  const candidates = [fileURLToPath(index), fileURLToPath(index).replace(/\.js$/, '.ts')];
  if (!candidates.some((f) => existsSync(f))) return defs;
  const found = collectDefinitions((await import(index.href)) as Record<string, unknown>);
  // The index may list the entities its orchestrations use (counter again, account...).
  const entities = [...defs.entities, ...found.entities].filter((e, i, all) => all.findIndex((x) => x.name === e.name) === i);
  return { entities, orchestrations: found.orchestrations, activities: found.activities };
}
