#!/usr/bin/env node
// The `durable-nats` command. Runs the compiled CLI (dist/, built by `npm install`'s prepare)
// when present; otherwise (or with DURABLE_NATS_FROM_SOURCE=1) runs the TypeScript source
// through tsx, so a checkout works before and without a build.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/src/cli/main.js', import.meta.url);
let main;
if (existsSync(dist) && !process.env.DURABLE_NATS_FROM_SOURCE) {
  main = await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  main = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
// Exit explicitly: a command is over when run() resolves, whatever handles are still open.
process.exit(await main.run(process.argv));
