/**
 * Confirmation of every action: a modal dialog that names the action and its target. Nothing is
 * sent until "Confirm" is pressed; Escape or "Cancel" sends nothing.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

interface Pending {
  title: string;
  detail: string;
  run: () => Promise<void> | void;
}

export function useConfirm() {
  const [pending, setPending] = useState<Pending | null>(null);
  const ask = (title: string, detail: string, run: () => Promise<void> | void) => setPending({ title, detail, run });
  const dialog = pending ? <ConfirmDialog pending={pending} close={() => setPending(null)} /> : null;
  return { ask, dialog };
}

function ConfirmDialog({ pending, close }: { pending: Pending; close: () => void }) {
  const confirmRef = useRef<HTMLButtonElement>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    confirmRef.current?.focus();
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') close(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return (
    <div class="backdrop">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
        <h2 id="confirm-title">{pending.title}</h2>
        <p>{pending.detail}</p>
        <div class="row end">
          <button type="button" onClick={close}>Cancel</button>
          <button type="button" class="danger" ref={confirmRef} disabled={busy}
            onClick={async () => { setBusy(true); try { await pending.run(); } finally { close(); } }}>Confirm</button>
        </div>
      </div>
    </div>
  );
}
