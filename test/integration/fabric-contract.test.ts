/**
 * The fabric contract against NATS (a private nats-server for this file): the same suite as the
 * memory fabric's, which is what proves the port. Time passes for real here.
 */
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { NatsFabric } from '../../src/store/nats-fabric.js';
import { fabricContract } from '../contract/fabric-contract.js';

fabricContract('NATS', async () => {
  const server: TestServer = await startNatsServer();
  const opened: NatsFabric[] = [];
  const connect = async () => {
    const f = await NatsFabric.connect(server.url);
    opened.push(f);
    return f;
  };
  return {
    fabric: await connect(),
    connect,
    pass: (ms) => new Promise((r) => setTimeout(r, ms)),
    close: async () => {
      for (const f of opened) await f.close();
      await server.stop();
    },
  };
});
