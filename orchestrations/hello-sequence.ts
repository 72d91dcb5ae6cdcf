/** Function chaining: call activities one after another, each result feeding the output. */
import { activity, orchestration } from '../src/index.js';

export const sayHello = activity('sayHello', async (name: string) => `Hello ${name}!`);

export const helloSequence = orchestration('helloSequence', function* (ctx) {
  const out: string[] = [];
  for (const city of ['Tokyo', 'Seattle', 'London']) out.push(yield ctx.callActivity('sayHello', city));
  return out;
});
