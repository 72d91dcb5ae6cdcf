/**
 * One instance: status, input, output, custom status, failure, the history as a timeline (with
 * links to sub-orchestrations and touched entities), live by the instance's SSE stream, and the
 * actions (raise event, terminate, suspend, resume, rewind, restart, purge), each confirmed.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, enc, stream } from '../api.js';
import { fmtDuration, fmtTime, Notice, StatusBadge, useFlash, useLoader } from '../components/common.js';
import { useConfirm } from '../components/confirm.js';
import { JsonEditor, type JsonInput } from '../components/json-editor.js';
import { JsonTree } from '../components/json-tree.js';
import { navigate, paths } from '../router.js';
import { buildTimeline, entitiesTouched, type HistoryEvent, type Span } from '../timeline.js';

interface Status {
  instanceId: string; name: string; runtimeStatus: string; input: unknown; output: unknown; customStatus: unknown;
  createdTime: string; lastUpdatedTime: string;
  failureDetails?: { message: string; errorType: string; stack?: string };
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated']);

export function InstanceView({ id }: { id: string }) {
  const path = `/instances/${enc(id)}`;
  // The status and durable-nats' own history (the DF-shaped historyEvents lose the ids that pair
  // each start with its end).
  const { data, error, reload } = useLoader(async () => {
    const [status, history] = await Promise.all([
      api<Status>(path),
      api<{ history: HistoryEvent[] }>(`${path}/history`),
    ]);
    return { ...status.data, history: history.data.history };
  }, [id]);
  const [live, setLive] = useState(false);
  useEffect(() => stream(`${path}/events`, {
    status: () => { setLive(true); void reload(); },
  }, () => setLive(false)), [id]);

  if (error && !data) return <section><h1>Instance {id}</h1><Notice kind="error">{error}</Notice></section>;
  if (!data) return <section><h1>Instance {id}</h1><p class="muted">Loading…</p></section>;
  const spans = buildTimeline(data.history);
  return (
    <section>
      <p><a href={paths.instances()}>← Instances</a></p>
      <h1>Instance {data.instanceId}</h1>
      <dl class="facts">
        <dt>Name</dt><dd>{data.name}</dd>
        <dt>Status</dt><dd><StatusBadge status={data.runtimeStatus} /> {live && !TERMINAL.has(data.runtimeStatus) && <span class="muted">live</span>}</dd>
        <dt>Created</dt><dd>{fmtTime(data.createdTime)}</dd>
        <dt>Last updated</dt><dd>{fmtTime(data.lastUpdatedTime)}</dd>
      </dl>
      <Actions status={data} onDone={reload} />
      <div class="grid2">
        <Panel title="Input" value={data.input} />
        <Panel title={data.runtimeStatus === 'Failed' ? 'Output (failure message)' : 'Output'} value={data.output} />
        <Panel title="Custom status" value={data.customStatus} />
        {data.failureDetails && (
          <div class="panel" role="region" aria-label="Failure details">
            <h2>Failure details</h2>
            <p><strong>{data.failureDetails.errorType}</strong>: {data.failureDetails.message}</p>
            {data.failureDetails.stack && <pre class="stack">{data.failureDetails.stack}</pre>}
          </div>
        )}
      </div>
      <Related spans={spans} />
      <Timeline spans={spans} />
    </section>
  );
}

function Panel({ title, value }: { title: string; value: unknown }) {
  return <div class="panel" role="region" aria-label={title}><h2>{title}</h2>{value === null || value === undefined ? <p class="muted">none</p> : <JsonTree value={value} label={title} />}</div>;
}

function Related({ spans }: { spans: Span[] }) {
  const subs = spans.filter((s) => s.kind === 'Sub-orchestration' && s.instanceId);
  const entities = entitiesTouched(spans);
  if (subs.length === 0 && entities.length === 0) return null;
  return (
    <div class="grid2">
      {subs.length > 0 && (
        <div class="panel"><h2>Sub-orchestrations</h2>
          <ul>{subs.map((s) => <li key={s.instanceId}><a href={paths.instance(s.instanceId!)}>{s.instanceId}</a> ({s.label})</li>)}</ul>
        </div>
      )}
      {entities.length > 0 && (
        <div class="panel"><h2>Entities touched</h2>
          <ul>{entities.map((e) => <li key={e}><a href={paths.entityRef(e)}>{e}</a></li>)}</ul>
        </div>
      )}
    </div>
  );
}

function Timeline({ spans }: { spans: Span[] }) {
  if (spans.length === 0) return <div class="panel"><h2>History</h2><p class="muted">No history.</p></div>;
  const t0 = new Date(spans[0]!.start).getTime();
  const t1 = Math.max(...spans.map((s) => new Date(s.end ?? s.start).getTime()), t0 + 1);
  const pct = (iso: string) => ((new Date(iso).getTime() - t0) / (t1 - t0)) * 100;
  return (
    <div class="panel">
      <h2>History</h2>
      <table class="timeline" aria-label="History timeline">
        <thead><tr><th>Kind</th><th>What</th><th>Started</th><th>Ended</th><th>Duration</th><th class="bar-col">Timeline</th></tr></thead>
        <tbody>
          {spans.map((s, i) => {
            const left = pct(s.start);
            const width = s.end ? Math.max(0.5, pct(s.end) - left) : s.outcome === 'pending' ? 100 - left : 0.5;
            return (
              <tr key={i} class={`o-${s.outcome ?? 'instant'}`}>
                <td>{s.kind}</td>
                <td>{s.instanceId && s.kind === 'Sub-orchestration' ? <a href={paths.instance(s.instanceId)}>{s.label}</a> : s.label}</td>
                <td>{fmtTime(s.start)}</td>
                <td>{s.end ? fmtTime(s.end) : s.outcome === 'pending' ? 'running' : ''}</td>
                <td>{s.durationMs !== undefined ? fmtDuration(s.durationMs) : ''}</td>
                <td class="bar-col"><div class="bar-track"><div class={`bar b-${s.outcome ?? 'instant'}`} style={{ left: `${left}%`, width: `${width}%` }} /></div></td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Actions({ status, onDone }: { status: Status; onDone: () => void }) {
  const { ask, dialog } = useConfirm();
  const flash = useFlash();
  const [eventName, setEventName] = useState('');
  const [payload, setPayload] = useState<JsonInput>({ ok: true, value: undefined, empty: true });
  const [reason, setReason] = useState('');
  const id = status.instanceId;
  const base = `/instances/${enc(id)}`;
  const active = !TERMINAL.has(status.runtimeStatus);
  const command = (verb: string, label: string, done: string, enabled: boolean) => (
    <button type="button" disabled={!enabled} onClick={() => ask(`${label} ${id}?`, `${label} the instance '${id}'${reason ? ` (reason: ${reason})` : ''}.`,
      () => flash.run(done, async () => { await api(`${base}/${verb}`, { method: 'POST', query: { reason } }); onDone(); }))}>{label}</button>
  );
  return (
    <div class="panel actions">
      <h2>Actions</h2>
      {flash.node}
      <div class="row">
        <label class="field grow"><span>Reason (optional)</span><input value={reason} onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)} /></label>
      </div>
      <div class="row">
        {command('terminate', 'Terminate', 'Terminate requested', active)}
        {command('suspend', 'Suspend', 'Suspend requested', active && status.runtimeStatus !== 'Suspended')}
        {command('resume', 'Resume', 'Resume requested', status.runtimeStatus === 'Suspended')}
        {command('rewind', 'Rewind', 'Rewind requested', status.runtimeStatus === 'Failed')}
        <button type="button" onClick={() => ask(`Restart ${id}?`, `Start '${id}' again from the beginning with the same input.`,
          () => flash.run('Restart requested', async () => { await api(`${base}/restart`, { method: 'POST' }); onDone(); }))}>Restart</button>
        <button type="button" class="danger" onClick={() => ask(`Purge ${id}?`, `Delete the instance '${id}' and its history. This cannot be undone.`,
          () => flash.run('Purged', async () => { await api(base, { method: 'DELETE' }); navigate(paths.instances()); }))}>Purge</button>
      </div>
      <form class="raise" aria-label="Raise event" onSubmit={(e) => {
        e.preventDefault();
        ask(`Raise '${eventName}'?`, `Send the event '${eventName}' to '${id}'.`,
          () => flash.run(`Event '${eventName}' raised`, async () => { await api(`${base}/raiseEvent/${enc(eventName)}`, { method: 'POST', body: payload.empty ? null : payload.value }); onDone(); }));
      }}>
        <h3>Raise event</h3>
        <label class="field"><span>Event name</span><input value={eventName} required onInput={(e) => setEventName((e.currentTarget as HTMLInputElement).value)} /></label>
        <JsonEditor label="Event data (JSON)" onChange={setPayload} />
        <button type="submit" disabled={!active || !payload.ok || eventName.trim() === ''}>Raise event</button>
      </form>
      {dialog}
    </div>
  );
}
