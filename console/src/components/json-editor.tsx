/**
 * A JSON text field that validates as you type: the parsed value goes to onChange only when the
 * text is valid JSON (empty text means "no value"); otherwise the error is shown next to it.
 */
import { useState } from 'preact/hooks';

export interface JsonInput {
  ok: boolean;
  value: unknown;
  empty: boolean;
}

export function parseJsonInput(text: string): JsonInput & { error?: string } {
  if (text.trim() === '') return { ok: true, value: undefined, empty: true };
  try {
    return { ok: true, value: JSON.parse(text), empty: false };
  } catch (e) {
    return { ok: false, value: undefined, empty: false, error: (e as Error).message };
  }
}

export function JsonEditor({ label, onChange, initial = '', rows = 4 }: {
  label: string; onChange: (input: JsonInput) => void; initial?: string; rows?: number;
}) {
  const [text, setText] = useState(initial);
  const parsed = parseJsonInput(text);
  return (
    <label class="field">
      <span>{label}</span>
      <textarea rows={rows} spellcheck={false} value={text} aria-invalid={!parsed.ok}
        onInput={(e) => {
          const t = (e.currentTarget as HTMLTextAreaElement).value;
          setText(t);
          const p = parseJsonInput(t);
          onChange({ ok: p.ok, value: p.value, empty: p.empty });
        }} />
      {parsed.ok
        ? <small class="hint">{parsed.empty ? 'empty: no input' : 'valid JSON'}</small>
        : <small class="error" role="alert">Invalid JSON: {parsed.error}</small>}
    </label>
  );
}
