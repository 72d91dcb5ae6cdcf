/** Schedules: each one's spec, action, next runs and last run; pause, resume, trigger, delete (confirmed). */
import { api, enc } from '../api.js';
import { fmtDuration, fmtTime, Notice, useFlash, useLoader } from '../components/common.js';
import { useConfirm } from '../components/confirm.js';
import { JsonText } from '../components/json-tree.js';
import { paths } from '../router.js';

interface Schedule {
  id: string; cron?: string; every?: number; timezone?: string; action: unknown; overlap: string; paused: boolean;
  nextRuns: string[]; lastRun?: { time: string; instanceId?: string };
}

export function SchedulesView() {
  const { data, error, reload } = useLoader(async () => (await api<{ schedules: Schedule[] }>('/schedules')).data.schedules, []);
  const flash = useFlash();
  const { ask, dialog } = useConfirm();
  const act = (s: Schedule, verb: 'pause' | 'resume' | 'trigger', label: string, done: string) => (
    <button type="button" onClick={() => ask(`${label} ${s.id}?`, `${label} the schedule '${s.id}'.`,
      () => flash.run(done, async () => { await api(`/schedules/${enc(s.id)}/${verb}`, { method: 'POST' }); await reload(); }))}>{label}</button>
  );
  return (
    <section>
      <h1>Schedules</h1>
      {flash.node}
      {error && <Notice kind="error">{error}</Notice>}
      <table aria-label="Schedules">
        <thead><tr><th>Id</th><th>When</th><th>Action</th><th>State</th><th>Next runs</th><th>Last run</th><th>Actions</th></tr></thead>
        <tbody>
          {(data ?? []).map((s) => (
            <tr key={s.id}>
              <td class="nowrap">{s.id}</td>
              <td>{s.cron ? <code>{s.cron}</code> : `every ${fmtDuration(s.every)}`}{s.timezone ? ` (${s.timezone})` : ''}</td>
              <td><JsonText value={s.action} /> <span class="muted">overlap: {s.overlap}</span></td>
              <td class="nowrap">{s.paused ? 'paused' : 'active'}</td>
              <td><ul class="plain">{s.nextRuns.slice(0, 3).map((t) => <li key={t} class="nowrap">{fmtTime(t)}</li>)}</ul></td>
              <td>{s.lastRun ? <>{fmtTime(s.lastRun.time)}{s.lastRun.instanceId && <> · <a href={paths.instance(s.lastRun.instanceId)}>{s.lastRun.instanceId}</a></>}</> : '—'}</td>
              <td><div class="row nowrap">
                {s.paused ? act(s, 'resume', 'Resume', `Schedule '${s.id}' resumed`) : act(s, 'pause', 'Pause', `Schedule '${s.id}' paused`)}
                {act(s, 'trigger', 'Trigger', `Schedule '${s.id}' triggered`)}
                <button type="button" class="danger" onClick={() => ask(`Delete ${s.id}?`, `Delete the schedule '${s.id}'. Runs already started are kept.`,
                  () => flash.run(`Schedule '${s.id}' deleted`, async () => { await api(`/schedules/${enc(s.id)}`, { method: 'DELETE' }); await reload(); }))}>Delete</button>
              </div></td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.length === 0 && <p class="muted">No schedule.</p>}
      {dialog}
    </section>
  );
}
