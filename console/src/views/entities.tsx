/**
 * Entities: pick an entity name (from the hub's catalog), browse its keys a page at a time, or
 * open a key directly.
 */
import { useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { Notice, useLoader } from '../components/common.js';
import { navigate, paths } from '../router.js';

export interface CatalogEntry { kind: 'entity' | 'orchestration' | 'activity'; name: string; operations?: Record<string, { input: unknown | null }> }

export async function loadCatalog(): Promise<CatalogEntry[]> {
  return (await api<{ entries: CatalogEntry[] }>('/catalog')).data.entries;
}

const PAGE = 50;

export function EntitiesView({ name }: { name?: string }) {
  const catalog = useLoader(loadCatalog, []);
  const names = (catalog.data ?? []).filter((e) => e.kind === 'entity').map((e) => e.name);
  const [key, setKey] = useState('');
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const token = tokens[tokens.length - 1];
  const list = useLoader(async () => {
    if (!name) return { keys: [] as string[], next: undefined as string | undefined };
    const r = await api<Array<{ entityId: { name: string; key: string } }>>(`/entities/${enc(name)}`, {
      query: { top: PAGE }, headers: token ? { 'x-ms-continuation-token': token } : {},
    });
    return { keys: r.data.map((e) => e.entityId.key), next: r.headers.get('x-ms-continuation-token') ?? undefined };
  }, [name, token]);

  return (
    <section>
      <h1>Entities</h1>
      {catalog.error && <Notice kind="error">{catalog.error}</Notice>}
      <div class="row">
        <label class="field"><span>Entity name</span>
          <select aria-label="Entity name" value={name ?? ''} onChange={(e) => { setTokens([undefined]); navigate(paths.entities((e.currentTarget as HTMLSelectElement).value)); }}>
            <option value="">choose…</option>
            {names.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <form class="row" aria-label="Open entity" onSubmit={(e) => { e.preventDefault(); if (name && key) navigate(paths.entity(name, key)); }}>
          <label class="field"><span>Key</span><input value={key} placeholder="e.g. user-1" onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} /></label>
          <button type="submit" disabled={!name || !key}>Open</button>
        </form>
      </div>
      {name && (
        <div class="panel">
          <h2>Keys of {name}</h2>
          {list.error && <Notice kind="error">{list.error}</Notice>}
          <ul class="keys" aria-label={`Keys of ${name}`}>
            {(list.data?.keys ?? []).map((k) => <li key={k}><a href={paths.entity(name, k)}>{k}</a></li>)}
          </ul>
          {list.data && list.data.keys.length === 0 && <p class="muted">No entity of this name yet.</p>}
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>Previous page</button>
            <span>Page {tokens.length}</span>
            <button type="button" disabled={!list.data?.next} onClick={() => setTokens([...tokens, list.data?.next])}>Next page</button>
          </nav>
        </div>
      )}
    </section>
  );
}
