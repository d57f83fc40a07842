import { createServer } from 'node:net';

/**
 * Below Linux's default ephemeral range (32768-60999), where no outgoing connection takes its local port: a port
 * found free here stays free until the process that asked for it listens, unless another test picks the same one.
 */
const FIRST = 20_000;
const LAST = 32_000;

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A loopback port that was free a moment ago (for a process that must listen on a port known in advance), chosen
 * at random outside the ephemeral range, so that the connections other tests open meanwhile cannot take it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const port = await tryListen(FIRST + Math.floor(Math.random() * (LAST - FIRST)));
    if (port !== undefined) return port;
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free loopback port');
  return port;
}
