/**
 * A JSON value as a collapsible tree. Invariant: every key and value is rendered as a text node
 * (never as HTML), so markup stored in state or output shows as the characters it is.
 */
import type { ComponentChildren } from 'preact';

function Scalar({ value }: { value: unknown }) {
  if (value === null) return <span class="j-null">null</span>;
  if (typeof value === 'string') return <span class="j-str">{JSON.stringify(value)}</span>;
  if (typeof value === 'number') return <span class="j-num">{String(value)}</span>;
  if (typeof value === 'boolean') return <span class="j-bool">{String(value)}</span>;
  return <span class="j-null">{value === undefined ? 'undefined' : String(value)}</span>;
}

function Node({ name, value, depth }: { name?: ComponentChildren; value: unknown; depth: number }) {
  const label = name === undefined ? null : <span class="j-key">{name}: </span>;
  if (value === null || typeof value !== 'object') return <div class="j-row">{label}<Scalar value={value} /></div>;
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const open = Array.isArray(value) ? '[' : '{';
  const close = Array.isArray(value) ? ']' : '}';
  if (entries.length === 0) return <div class="j-row">{label}<span>{open}{close}</span></div>;
  return (
    <details class="j-node" open={depth < 3}>
      <summary>{label}<span class="j-meta">{open} {entries.length} {Array.isArray(value) ? 'items' : 'keys'} {close}</span></summary>
      <div class="j-children">
        {entries.map(([k, v]) => <Node key={k} name={k} value={v} depth={depth + 1} />)}
      </div>
    </details>
  );
}

export function JsonTree({ value, label }: { value: unknown; label?: string }) {
  return <div class="json-tree" role="tree" aria-label={label}><Node value={value} depth={0} /></div>;
}

/** Compact one-line JSON as text (tables). */
export function JsonText({ value, max = 120 }: { value: unknown; max?: number }) {
  const s = value === undefined ? '' : JSON.stringify(value) ?? '';
  return <code class="json-inline" title={s.length > max ? s : undefined}>{s.length > max ? `${s.slice(0, max)}…` : s}</code>;
}
