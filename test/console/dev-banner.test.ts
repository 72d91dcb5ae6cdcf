/** The `dev` banner: where the console, the API and NATS are, and commands that work as printed. */
import { describe, expect, it } from 'vitest';
import { devBanner } from '../../src/cli/commands-run.js';

describe('dev banner', () => {
  const base = { httpUrl: 'http://127.0.0.1:7071', key: 'a+b/c', defs: 'entities: counter' };

  it('prints the console URL with the key (URL-encoded), the API, and a CLI start, a curl and the console to try', () => {
    const text = devBanner({ ...base, hub: 'durable', natsUrl: 'nats://127.0.0.1:4222' });
    expect(text).toContain('console on http://127.0.0.1:7071/console/?code=a%2Bb%2Fc');
    expect(text).toMatch(/HTTP API on http:\/\/127\.0\.0\.1:7071, system key a\+b\/c/);
    expect(text).toContain('npx durable-nats start helloSequence --wait');
    expect(text).toContain('curl -s -X POST "http://127.0.0.1:7071/api/orchestrators/helloSequence?code=a%2Bb%2Fc"');
  });

  it('adds --server and --hub to the CLI line when they are not the defaults', () => {
    const text = devBanner({ ...base, hub: 'devhub', natsUrl: 'nats://127.0.0.1:14999' });
    expect(text).toContain('npx durable-nats --server nats://127.0.0.1:14999 --hub devhub start helloSequence --wait');
  });
});
