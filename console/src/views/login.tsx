/** Asks for the system key once per tab; checks it against a guarded route before keeping it. */
import { useState } from 'preact/hooks';
import { api, errorText, setKey } from '../api.js';
import { Notice } from '../components/common.js';

export function LoginView() {
  const [key, setDraft] = useState('');
  const [error, setError] = useState<string | undefined>();
  return (
    <section class="login">
      <h1>durable-nats console</h1>
      <form aria-label="Sign in" onSubmit={async (e) => {
        e.preventDefault();
        try {
          await api('/catalog', { key }); // checked before it is kept
          setKey(key);
        } catch (err) {
          setError(errorText(err));
        }
      }}>
        <label class="field"><span>System key</span>
          <input type="password" autoComplete="off" value={key} onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={key.length === 0}>Sign in</button>
        <p class="muted">The key of <code>durable-nats serve</code> or <code>dev</code> (DURABLE_NATS_SYSTEM_KEY). It is kept in this tab only.</p>
        {error && <Notice kind="error">{error}</Notice>}
      </form>
    </section>
  );
}
