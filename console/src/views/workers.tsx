/**
 * Workers: the live workers and the partitions each owns, lease age and inbox lag per partition,
 * activity queues, and dead letters with their reasons (each can be re-driven, confirmed).
 * Refreshed every REFRESH_MS and on demand (leases change every few seconds, not per event).
 */
import { useEffect } from 'preact/hooks';
import { api } from '../api.js';
import { fmtDuration, fmtTime, Notice, useFlash, useLoader } from '../components/common.js';
import { useConfirm } from '../components/confirm.js';

const REFRESH_MS = 5_000;

interface Workers {
  hub: string; partitionCount: number;
  workers: Array<{ id: string; startedAt?: string; heartbeatAgeMs: number; live: boolean; partitions: number[] }>;
  partitions: Array<{ partition: number; owner: string | null; leaseAgeMs: number | null; checkpoint: number; lastSeq: number | null; lag: number }>;
  activities: Array<{ consumer: string; pending: number; ackPending: number; redelivered: number }>;
}
interface DeadLetter { seq: number; time: string; subject: string; originalSubject: string | null; originalSeq: number | null; reason: string; body: string }

export function WorkersView() {
  const w = useLoader(async () => (await api<Workers>('/workers')).data, []);
  const dl = useLoader(async () => (await api<{ deadLetters: DeadLetter[] }>('/deadletters', { query: { limit: 100 } })).data.deadLetters, []);
  useEffect(() => {
    const t = setInterval(() => { void w.reload(); void dl.reload(); }, REFRESH_MS);
    return () => clearInterval(t);
  }, [w.reload, dl.reload]);
  const flash = useFlash();
  const { ask, dialog } = useConfirm();
  const data = w.data;
  return (
    <section>
      <h1>Workers</h1>
      <div class="row"><button type="button" onClick={() => { void w.reload(); void dl.reload(); }}>Refresh</button>
        <span class="muted">refreshes every {REFRESH_MS / 1000} s</span></div>
      {w.error && <Notice kind="error">{w.error}</Notice>}
      {data && (
        <>
          <div class="panel">
            <h2>Live workers</h2>
            <table aria-label="Workers">
              <thead><tr><th>Worker</th><th>Started</th><th>Heartbeat age</th><th>State</th><th>Partitions owned</th></tr></thead>
              <tbody>{data.workers.map((x) => (
                <tr key={x.id}><td>{x.id}</td><td>{fmtTime(x.startedAt)}</td><td>{fmtDuration(x.heartbeatAgeMs)}</td>
                  <td>{x.live ? 'live' : 'gone'}</td><td>{x.partitions.length ? x.partitions.join(', ') : '—'}</td></tr>
              ))}</tbody>
            </table>
            {data.workers.length === 0 && <p class="muted">No worker is running on hub {data.hub}.</p>}
          </div>
          <div class="grid2">
            <div class="panel">
              <h2>Partitions ({data.partitionCount})</h2>
              <table aria-label="Partitions">
                <thead><tr><th>Partition</th><th>Owner</th><th>Lease age</th><th>Checkpoint</th><th>Inbox last seq</th><th>Lag</th></tr></thead>
                <tbody>{data.partitions.map((p) => (
                  <tr key={p.partition}><td>{p.partition}</td><td>{p.owner ?? '—'}</td><td>{fmtDuration(p.leaseAgeMs)}</td>
                    <td>{p.checkpoint}</td><td>{p.lastSeq ?? '—'}</td><td class={p.lag > 0 ? 'warn' : ''}>{p.lag}</td></tr>
                ))}</tbody>
              </table>
            </div>
            <div class="panel">
              <h2>Activity queues</h2>
              <table aria-label="Activity queues">
                <thead><tr><th>Consumer</th><th>Pending</th><th>In progress</th><th>Redelivered</th></tr></thead>
                <tbody>{data.activities.map((a) => (
                  <tr key={a.consumer}><td>{a.consumer}</td><td>{a.pending}</td><td>{a.ackPending}</td><td>{a.redelivered}</td></tr>
                ))}</tbody>
              </table>
              {data.activities.length === 0 && <p class="muted">No activity consumer yet.</p>}
            </div>
          </div>
        </>
      )}
      <div class="panel">
        <h2>Dead letters</h2>
        {flash.node}
        {dl.error && <Notice kind="error">{dl.error}</Notice>}
        <table aria-label="Dead letters">
          <thead><tr><th>Seq</th><th>Parked</th><th>Original subject</th><th>Reason</th><th>Body</th><th></th></tr></thead>
          <tbody>{(dl.data ?? []).map((d) => (
            <tr key={d.seq}><td>{d.seq}</td><td>{fmtTime(d.time)}</td><td><code>{d.originalSubject ?? '—'}</code></td><td>{d.reason}</td>
              <td><code class="json-inline">{d.body.length > 160 ? `${d.body.slice(0, 160)}…` : d.body}</code></td>
              <td><button type="button" disabled={!d.originalSubject} onClick={() => ask(`Re-drive dead letter ${d.seq}?`,
                `Publish it again to ${d.originalSubject ?? '?'} and remove it from the dead letters.`,
                () => flash.run(`Dead letter ${d.seq} re-driven`, async () => { await api(`/deadletters/${d.seq}/redrive`, { method: 'POST' }); await dl.reload(); await w.reload(); }))}>Re-drive</button></td></tr>
          ))}</tbody>
        </table>
        {dl.data && dl.data.length === 0 && <p class="muted">No dead letter.</p>}
      </div>
      {dialog}
    </section>
  );
}
