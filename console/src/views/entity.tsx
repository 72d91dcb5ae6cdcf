/**
 * One entity: its state as a JSON tree kept live by the watch stream, its history with a slider
 * through versions (each version's state and the operations applied in it), restore to a
 * version, and a form to signal or call an operation, validated by the server against the
 * catalog's schema (shown beside the input) before anything is written.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, enc, errorText, stream } from '../api.js';
import { fmtTime, Notice, useFlash, useLoader } from '../components/common.js';
import { useConfirm } from '../components/confirm.js';
import { JsonEditor, type JsonInput } from '../components/json-editor.js';
import { JsonText, JsonTree } from '../components/json-tree.js';
import { schemaProblem } from '../components/schema-check.js';
import { paths } from '../router.js';
import { loadCatalog } from './entities.js';

interface Version { version: number; time: string; exists: boolean; state?: unknown; operations?: Array<{ op: string; input?: unknown }> }

export function EntityView({ name, entityKey }: { name: string; entityKey: string }) {
  const base = `/entities/${enc(name)}/${enc(entityKey)}`;
  const [current, setCurrent] = useState<Version | null>(null);
  const [live, setLive] = useState<'connecting' | 'live' | 'unavailable'>('connecting');
  const [error, setError] = useState<string | undefined>();
  const [tick, setTick] = useState(0);

  // First paint from the plain state route (always there); then the watch stream keeps it live.
  const loadState = async () => {
    try {
      const r = await api<unknown>(base);
      setCurrent((c) => ({ version: c?.version ?? 0, time: c?.time ?? '', exists: true, state: r.data }));
      setError(undefined);
    } catch (e) {
      if ((e as { status?: number }).status === 404) setCurrent({ version: 0, time: '', exists: false });
      else setError(errorText(e));
    }
  };
  useEffect(() => { void loadState(); }, [name, entityKey, tick]);
  useEffect(() => stream(`${base}/watch`, {
    version: (d) => { setLive('live'); setCurrent(d as Version); },
    message: (d) => { setLive('live'); setCurrent(d as Version); },
  }, () => setLive((l) => (l === 'live' ? 'connecting' : 'unavailable'))), [name, entityKey]);

  // With the watch stream, the new version arrives by itself. Without it (an older server), a
  // signal is applied a moment after it is accepted: read again a few times, then stop.
  const afterAction = () => {
    setTick((t) => t + 1);
    if (live !== 'live') for (const ms of [300, 1_000, 3_000]) setTimeout(() => setTick((t) => t + 1), ms);
  };

  return (
    <section>
      <p><a href={paths.entities(name)}>← Entities: {name}</a></p>
      <h1>Entity @{name}@{entityKey}</h1>
      {error && <Notice kind="error">{error}</Notice>}
      <div class="grid2">
        <div class="panel" role="region" aria-label="Current state">
          <h2>Current state</h2>
          <p class="muted">
            {[
              current && current.version > 0 ? `version ${current.version}` : '',
              current?.time ? fmtTime(current.time) : '',
              live === 'live' ? 'live' : live === 'unavailable' ? 'live updates unavailable' : 'connecting…',
            ].filter((x) => x.length > 0).join(' · ')}
          </p>
          {current === null ? <p class="muted">Loading…</p>
            : current.exists ? <JsonTree value={current.state} label="State" /> : <p class="muted">This entity has no state (never used, or deleted).</p>}
        </div>
        <Operations name={name} base={base} onDone={afterAction} />
      </div>
      <History base={base} latest={current?.version ?? 0} onRestored={() => setTick((t) => t + 1)} />
    </section>
  );
}

function Operations({ name, base, onDone }: { name: string; base: string; onDone: () => void }) {
  const catalog = useLoader(loadCatalog, []);
  const ops = catalog.data?.find((e) => e.kind === 'entity' && e.name === name)?.operations ?? {};
  const opNames = Object.keys(ops);
  const [op, setOp] = useState('');
  const [input, setInput] = useState<JsonInput>({ ok: true, value: undefined, empty: true });
  const [result, setResult] = useState<{ value: unknown } | null>(null);
  const flash = useFlash();
  const { ask, dialog } = useConfirm();
  const chosen = op || opNames[0] || '';
  const schema = ops[chosen]?.input;
  const body = input.empty ? undefined : input.value;
  const problem = input.ok && schema ? schemaProblem(schema, body) : undefined;
  return (
    <div class="panel" role="region" aria-label="Operations">
      <h2>Send an operation</h2>
      {flash.node}
      <label class="field"><span>Operation</span>
        <select aria-label="Operation" value={chosen} onChange={(e) => setOp((e.currentTarget as HTMLSelectElement).value)}>
          {opNames.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
      </label>
      <p class="muted">Input schema: {schema ? <JsonText value={schema} max={200} /> : 'any (or none)'}</p>
      <JsonEditor label="Input (JSON)" onChange={setInput} />
      {problem && <p class="error" role="alert">Does not match the schema: {problem}</p>}
      <div class="row">
        <button type="button" disabled={!chosen || !input.ok || problem !== undefined} onClick={() => ask(`Signal ${chosen}?`, `Send '${chosen}' to this entity (one-way).`,
          () => flash.run(`Signal '${chosen}' sent`, async () => { setResult(null); await api(base, { method: 'POST', query: { op: chosen }, body }); onDone(); }))}>Signal</button>
        <button type="button" disabled={!chosen || !input.ok || problem !== undefined} onClick={() => ask(`Call ${chosen}?`, `Run '${chosen}' on this entity and wait for its result.`,
          () => flash.run(`Call '${chosen}' answered`, async () => { const r = await api(`${base}/call`, { method: 'POST', query: { op: chosen }, body }); setResult({ value: r.data }); onDone(); }))}>Call</button>
      </div>
      {result && <div role="region" aria-label="Call result"><h3>Result</h3><JsonTree value={result.value} label="Result" /></div>}
      {dialog}
    </div>
  );
}

function History({ base, latest, onRestored }: { base: string; latest: number; onRestored: () => void }) {
  const history = useLoader(async () => (await api<{ versions: Version[] }>(`${base}/history`, { query: { reverse: true, limit: 100 } })).data.versions.slice().reverse(), [base, latest]);
  const [index, setIndex] = useState<number | null>(null);
  const flash = useFlash();
  const { ask, dialog } = useConfirm();
  if (history.error) return <div class="panel"><h2>History</h2><Notice kind="info">History unavailable: {history.error}</Notice></div>;
  const versions = history.data ?? [];
  if (versions.length === 0) return <div class="panel"><h2>History</h2><p class="muted">No versions yet.</p></div>;
  const i = Math.min(index ?? versions.length - 1, versions.length - 1);
  const v = versions[i]!;
  return (
    <div class="panel" role="region" aria-label="History">
      <h2>History</h2>
      {flash.node}
      <label class="field"><span>Version {v.version} of {versions[versions.length - 1]!.version} · {fmtTime(v.time)}</span>
        <input type="range" aria-label="Version" min={0} max={versions.length - 1} value={i}
          onInput={(e) => setIndex(Number((e.currentTarget as HTMLInputElement).value))} />
      </label>
      <div class="grid2">
        <div><h3>State at version {v.version}</h3>{v.exists ? <JsonTree value={v.state} label={`State at version ${v.version}`} /> : <p class="muted">no state (deleted)</p>}</div>
        <div><h3>Operations in this version</h3>
          <ol aria-label="Operations in this version">{(v.operations ?? []).map((o, k) => <li key={k}><code>{o.op}</code> {o.input !== undefined && <JsonText value={o.input} />}</li>)}</ol>
        </div>
      </div>
      <button type="button" disabled={i === versions.length - 1} onClick={() => ask(`Restore version ${v.version}?`, `Write a new version whose state equals version ${v.version}.`,
        () => flash.run(`Restored version ${v.version}`, async () => { await api(`${base}/restore`, { method: 'POST', body: { version: v.version } }); setIndex(null); onRestored(); }))}>Restore this version</button>
      {dialog}
    </div>
  );
}
