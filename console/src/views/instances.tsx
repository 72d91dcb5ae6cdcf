/**
 * Instances: a filtered list, one page at a time (the server pages with a continuation token, so
 * 100,000 instances are never loaded at once), kept live by the status stream: rows on the page
 * change in place, and instances created since the page loaded are counted, not pushed in.
 * The filters live in the URL, so a filtered list can be shared and reloaded.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, stream } from '../api.js';
import { fmtTime, Notice, StatusBadge } from '../components/common.js';
import { navigate, paths } from '../router.js';

const STATUSES = ['Pending', 'Running', 'Suspended', 'Completed', 'Failed', 'Terminated', 'ContinuedAsNew'];
const PAGE_SIZE = 50;

interface Row { instanceId: string; name: string; runtimeStatus: string; createdTime: string; lastUpdatedTime: string }
type Change = Row | { instanceId: string; deleted: true };

/** datetime-local value <-> ISO in UTC. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : '');

export function InstancesView({ search }: { search: URLSearchParams }) {
  const filters = {
    status: search.get('status') ?? '',
    name: search.get('name') ?? '',
    idPrefix: search.get('idPrefix') ?? '',
    from: search.get('from') ?? '',
    to: search.get('to') ?? '',
  };
  const key = JSON.stringify(filters);
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [fresh, setFresh] = useState(0);
  const [reloads, setReloads] = useState(0);
  const [draft, setDraft] = useState(filters);
  useEffect(() => { setDraft(filters); setTokens([undefined]); }, [key]);
  const token = tokens[tokens.length - 1];

  useEffect(() => {
    let cancelled = false;
    setError(undefined);
    api<Row[]>('/instances', {
      query: {
        top: PAGE_SIZE, showInput: false, runtimeStatus: filters.status, namePrefix: filters.name, instanceIdPrefix: filters.idPrefix,
        createdTimeFrom: toIso(filters.from), createdTimeTo: toIso(filters.to),
      },
      headers: token ? { 'x-ms-continuation-token': token } : {},
    }).then((r) => {
      if (cancelled) return;
      setRows(r.data);
      setNext(r.headers.get('x-ms-continuation-token') ?? undefined);
      setFresh(0);
    }, (e) => !cancelled && setError(String(e.message ?? e)));
    return () => { cancelled = true; };
  }, [key, token, reloads]);

  // Live: status changes of rows on this page are applied in place; others are only counted.
  const onPage = useMemo(() => new Set((rows ?? []).map((r) => r.instanceId)), [rows]);
  useEffect(() => stream('/streams/instances', {
    statuses: (data) => {
      const changes = data as Change[];
      let outside = 0;
      setRows((current) => {
        if (!current) return current;
        const byId = new Map(changes.map((c) => [c.instanceId, c]));
        return current.map((r) => {
          const c = byId.get(r.instanceId);
          return c && !('deleted' in c) ? { ...r, ...c } : r;
        });
      });
      for (const c of changes) if (!onPage.has(c.instanceId) && !('deleted' in c)) outside++;
      if (outside > 0) setFresh((n) => n + outside);
    },
  }), [onPage]);

  const apply = (e: Event) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(draft)) if (v) q.set(k, v);
    navigate(paths.instances(q.toString()));
  };
  const set = (k: keyof typeof filters) => (e: Event) => setDraft({ ...draft, [k]: (e.currentTarget as HTMLInputElement).value });

  return (
    <section>
      <h1>Instances</h1>
      <form class="filters" onSubmit={apply} aria-label="Filter instances">
        <label class="field"><span>Status</span>
          <select aria-label="Status" value={draft.status} onChange={set('status')}>
            <option value="">any</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label class="field"><span>Name prefix</span><input value={draft.name} onInput={set('name')} placeholder="helloSequence" /></label>
        <label class="field"><span>Id prefix</span><input value={draft.idPrefix} onInput={set('idPrefix')} placeholder="order-" /></label>
        <label class="field"><span>Created from</span><input type="datetime-local" value={draft.from} onInput={set('from')} /></label>
        <label class="field"><span>Created to</span><input type="datetime-local" value={draft.to} onInput={set('to')} /></label>
        <button type="submit">Apply filters</button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {fresh > 0 && (
        <Notice kind="info">
          {fresh} status change{fresh === 1 ? '' : 's'} outside this page since it loaded.{' '}
          <button type="button" class="link" onClick={() => setReloads((n) => n + 1)}>Reload page</button>
        </Notice>
      )}
      <table aria-label="Instances">
        <thead><tr><th>Instance id</th><th>Name</th><th>Status</th><th>Created</th><th>Last updated</th></tr></thead>
        <tbody>
          {(rows ?? []).map((r) => (
            <tr key={r.instanceId}>
              <td><a href={paths.instance(r.instanceId)}>{r.instanceId}</a></td>
              <td>{r.name}</td>
              <td><StatusBadge status={r.runtimeStatus} /></td>
              <td>{fmtTime(r.createdTime)}</td>
              <td>{fmtTime(r.lastUpdatedTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows && rows.length === 0 && <p class="muted">No instance matches.</p>}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>Previous page</button>
        <span>Page {tokens.length}</span>
        <button type="button" disabled={!next} onClick={() => setTokens([...tokens, next])}>Next page</button>
      </nav>
    </section>
  );
}
