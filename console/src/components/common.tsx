/** Small shared pieces: status badges, times, durations, notices, a data loader hook. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { errorText } from '../api.js';

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge s-${status.toLowerCase()}`}>{status}</span>;
}

export function fmtTime(iso: string | undefined | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace('Z', ' UTC');
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const two = (a: number, unitA: string, b: number, unitB: string) => (b === 0 ? `${a} ${unitA}` : `${a} ${unitA} ${b} ${unitB}`);
  if (ms < 3_600_000) return two(Math.floor(ms / 60_000), 'min', Math.round((ms % 60_000) / 1000), 's');
  return two(Math.floor(ms / 3_600_000), 'h', Math.round((ms % 3_600_000) / 60_000), 'min');
}

export function Notice({ kind, children }: { kind: 'error' | 'info' | 'ok'; children: ComponentChildren }) {
  return <div class={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>{children}</div>;
}

/** Loads with `load` when deps change; `reload` loads again (after an action or a live event). */
export function useLoader<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const reload = useCallback(async () => {
    try {
      const data = await load();
      setState({ data, loading: false });
    } catch (e) {
      setState((s) => ({ ...s, error: errorText(e), loading: false }));
    }
  }, deps);
  useEffect(() => { setState({ loading: true }); void reload(); }, [reload]);
  return { ...state, reload };
}

/** The result of the last action, shown until the next one. */
export function useFlash() {
  const [flash, setFlash] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const node = flash ? <Notice kind={flash.kind}>{flash.text}</Notice> : null;
  const run = async (ok: string, action: () => Promise<unknown>) => {
    try {
      await action();
      setFlash({ kind: 'ok', text: ok });
    } catch (e) {
      setFlash({ kind: 'error', text: errorText(e) });
    }
  };
  return { node, run, setFlash };
}
