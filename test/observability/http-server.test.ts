import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../src/observability/http-server.js';
import { silentLogger } from '../../src/observability/logger.js';

/** Sends raw bytes and resolves with the whole answer. */
function raw(address: string, request: string): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').pop())];
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** The operators' HTTP server keeps serving whatever a client sends. */
describe('operator HTTP server', () => {
  let server: RunningHttpServer;

  beforeAll(async () => {
    server = await startHttpServer({
      routes: { '/ok': (_request, response) => void response.writeHead(200).end('ok') },
      logger: silentLogger(),
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('answers a malformed request target with 400 and keeps serving', async () => {
    const answer = await raw(
      server.address,
      'GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`${server.url}/ok`)).status).toBe(200);
  });
});
