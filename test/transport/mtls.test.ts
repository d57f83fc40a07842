import { X509Certificate } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import type { IdentityMaterial } from '../../src/identity/certs-dir.js';
import { createRequire } from 'node:module';
import {
  MESH_CHANNEL_OPTIONS,
  createChannelCredentials,
  peerIdentity,
} from '../../src/transport/credentials.js';
import { loadProtos } from '../../src/transport/protos.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { tlsSocketOf } from '../../src/transport/peer-socket.js';
import { agentClient, invoke, startWhoAmIServer } from '../helpers/agent-echo.js';
import { createTestCa, forgeCertificate, type TestCa } from '../helpers/test-ca.js';

const require = createRequire(import.meta.url);
const SERVER_ID = 'spiffe://agentmesh.local/agent/server';
const CLIENT_ID = 'spiffe://agentmesh.local/agent/client';

/** Client credentials built straight from grpc-js, as a peer that does not use our library would. */
function rawClientCredentials(
  material: IdentityMaterial | { trustBundlePem: string },
): grpc.ChannelCredentials {
  const key = 'privateKeyPem' in material ? Buffer.from(material.privateKeyPem) : null;
  const cert = 'certificatePem' in material ? Buffer.from(material.certificatePem) : null;
  // Accept any server: these tests are about whether the server refuses the client.
  return grpc.credentials.createSsl(Buffer.from(material.trustBundlePem), key, cert, {
    checkServerIdentity: () => undefined,
  });
}

async function expectCode(promise: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<void> {
  const error = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as grpc.ServiceError | undefined;
  expect(error, 'the call should have been refused').toBeDefined();
  expect(grpc.status[error!.code]).toBe(grpc.status[code]);
  if (message) expect(error!.details).toMatch(message);
}

describe('mutual TLS between mesh identities', () => {
  let testCa: TestCa;
  let otherCa: TestCa;
  let serverIdentity: MeshIdentity;
  let clientIdentity: MeshIdentity;
  let server: Awaited<ReturnType<typeof startWhoAmIServer>>;
  const clients: AgentClient[] = [];

  const track = (client: AgentClient) => {
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    testCa = await createTestCa();
    otherCa = await createTestCa('agentmesh.local');
    serverIdentity = await testCa.identity('server');
    clientIdentity = await testCa.identity('client');
    server = await startWhoAmIServer(serverIdentity);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
  });

  it('connects a valid pair, and each side sees the other side’s SPIFFE ID', async () => {
    const client = track(
      agentClient(server.running.address, createChannelCredentials(clientIdentity, SERVER_ID)),
    );
    const { response, call } = await invoke(client);
    expect(response.payload.toString()).toBe(CLIENT_ID);
    expect(peerIdentity(call, clientIdentity).uri).toBe(SERVER_ID);
  });

  it('refuses a client that presents no certificate', async () => {
    const handledBefore = server.handled();
    const client = track(
      agentClient(
        server.running.address,
        rawClientCredentials({ trustBundlePem: testCa.ca.trustBundle.pem }),
      ),
    );
    await expectCode(invoke(client), grpc.status.UNAVAILABLE, /certificate required/);
    expect(server.handled()).toBe(handledBefore);
  });

  // The refusals below vary one property of a hand-made certificate; this control shows that the same path with
  // nothing wrong is accepted, so each refusal is due to the property it varies.
  it('accepts a hand-made client certificate when nothing is wrong with it', async () => {
    const wellFormed = await forgeCertificate(testCa, { uris: [CLIENT_ID] });
    const client = track(agentClient(server.running.address, rawClientCredentials(wellFormed)));
    const { response } = await invoke(client);
    expect(response.payload.toString()).toBe(CLIENT_ID);
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const handledBefore = server.handled();
    const stranger = await otherCa.material('client');
    const client = track(
      agentClient(
        server.running.address,
        rawClientCredentials({ ...stranger, trustBundlePem: testCa.ca.trustBundle.pem }),
      ),
    );
    await expectCode(invoke(client), grpc.status.UNAVAILABLE);
    expect(server.handled()).toBe(handledBefore);
  });

  it('refuses a client whose certificate has expired', async () => {
    const handledBefore = server.handled();
    const expired = await forgeCertificate(testCa, {
      uris: [CLIENT_ID],
      notBefore: new Date(Date.now() - 7_200_000),
      notAfter: new Date(Date.now() - 3_600_000),
    });
    const client = track(agentClient(server.running.address, rawClientCredentials(expired)));
    await expectCode(invoke(client), grpc.status.UNAVAILABLE);
    expect(server.handled()).toBe(handledBefore);
  });

  it('refuses a client whose SPIFFE ID is in another trust domain, even when our CA signed it', async () => {
    const handledBefore = server.handled();
    const foreign = await forgeCertificate(testCa, { uris: ['spiffe://evil.example/agent/client'] });
    const client = track(agentClient(server.running.address, rawClientCredentials(foreign)));
    await expectCode(
      invoke(client),
      grpc.status.UNAUTHENTICATED,
      /trust domain "evil.example" is not trusted/,
    );
    expect(server.handled()).toBe(handledBefore);
  });

  it('refuses the same client on the services the server adds itself (health), with the same check', async () => {
    const foreign = await forgeCertificate(testCa, { uris: ['spiffe://evil.example/agent/client'] });
    const health = loadProtos<{ grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }>(
      [require('grpc-health-check').protoPath as string],
      [],
    ).protos.grpc.health.v1.Health;
    const check = (credentials: grpc.ChannelCredentials) => {
      const client = new health(server.running.address, credentials, MESH_CHANNEL_OPTIONS);
      return new Promise<{ status: string }>((resolve, reject) =>
        client.Check({ service: '' }, (error: grpc.ServiceError | null, reply: { status: string }) => {
          client.close();
          if (error) reject(error);
          else resolve(reply);
        }),
      );
    };
    await expectCode(check(rawClientCredentials(foreign)), grpc.status.UNAUTHENTICATED, /evil.example/);
    expect((await check(createChannelCredentials(clientIdentity, SERVER_ID))).status).toBe('SERVING');
  });

  it('refuses a CA certificate used as a client leaf', async () => {
    const handledBefore = server.handled();
    const caAsLeaf = await forgeCertificate(testCa, { uris: [CLIENT_ID], isCa: true });
    const client = track(agentClient(server.running.address, rawClientCredentials(caAsLeaf)));
    await expectCode(invoke(client), grpc.status.UNAUTHENTICATED, /CA certificate/);
    expect(server.handled()).toBe(handledBefore);
  });

  it('refuses a client certificate with two URI SANs', async () => {
    const handledBefore = server.handled();
    const twoIds = await forgeCertificate(testCa, {
      uris: [CLIENT_ID, 'spiffe://agentmesh.local/agent/admin'],
    });
    const client = track(agentClient(server.running.address, rawClientCredentials(twoIds)));
    await expectCode(invoke(client), grpc.status.UNAUTHENTICATED, /2 URI SANs/);
    expect(server.handled()).toBe(handledBefore);
  });

  it('refuses a client certificate with no SPIFFE ID at all', async () => {
    const noId = await forgeCertificate(testCa, { uris: [] });
    const client = track(agentClient(server.running.address, rawClientCredentials(noId)));
    await expectCode(invoke(client), grpc.status.UNAUTHENTICATED, /0 URI SANs/);
  });

  it('keeps serving valid callers after refusing bad ones', async () => {
    const client = track(
      agentClient(server.running.address, createChannelCredentials(clientIdentity, SERVER_ID)),
    );
    const { response } = await invoke(client);
    expect(response.payload.toString()).toBe(CLIENT_ID);
  });

  describe('the client checks the server', () => {
    it('refuses a server that is not the identity it meant to reach', async () => {
      const expectingSomeoneElse = createChannelCredentials(
        clientIdentity,
        'spiffe://agentmesh.local/agent/billing',
      );
      const client = track(agentClient(server.running.address, expectingSomeoneElse));
      await expectCode(
        invoke(client),
        grpc.status.UNAVAILABLE,
        /not "spiffe:\/\/agentmesh.local\/agent\/billing"/,
      );
    });

    it('accepts a server that matches a predicate', async () => {
      const anyAgent = createChannelCredentials(clientIdentity, (id) => id.path.startsWith('/agent/'));
      const client = track(agentClient(server.running.address, anyAgent));
      const { response } = await invoke(client);
      expect(response.payload.toString()).toBe(CLIENT_ID);
    });

    const forgedServers: Array<[string, (ca: TestCa) => Promise<IdentityMaterial>, RegExp | undefined]> = [
      [
        'from another CA',
        async () => ({ ...(await otherCa.material('server')), trustBundlePem: otherCa.ca.trustBundle.pem }),
        undefined,
      ],
      [
        'in another trust domain',
        (ca) => forgeCertificate(ca, { uris: ['spiffe://evil.example/agent/server'] }),
        /trust domain/,
      ],
      [
        'that is a CA certificate',
        (ca) => forgeCertificate(ca, { uris: [SERVER_ID], isCa: true }),
        /CA certificate/,
      ],
      ['with two URI SANs', (ca) => forgeCertificate(ca, { uris: [SERVER_ID, CLIENT_ID] }), /2 URI SANs/],
      [
        'whose certificate has expired',
        (ca) =>
          forgeCertificate(ca, {
            uris: [SERVER_ID],
            notBefore: new Date(Date.now() - 7_200_000),
            notAfter: new Date(Date.now() - 3_600_000),
          }),
        /expired/,
      ],
    ];

    it.each(forgedServers)('refuses a server certificate %s', async (_label, make, message) => {
      const material = await make(testCa);
      const credentials = grpc.ServerCredentials.createSsl(
        Buffer.from(testCa.ca.trustBundle.pem),
        [
          {
            private_key: Buffer.from(material.privateKeyPem),
            cert_chain: Buffer.from(material.certificatePem),
          },
        ],
        true,
      );
      const rogue = await startWhoAmIServer(serverIdentity, credentials);
      try {
        const client = track(
          agentClient(rogue.running.address, createChannelCredentials(clientIdentity, SERVER_ID)),
        );
        await expectCode(invoke(client), grpc.status.UNAVAILABLE, message);
        expect(rogue.handled()).toBe(0);
      } finally {
        await rogue.close();
      }
    });
  });
});

describe('identity rotation', () => {
  it('trusts both roots of a bundle during a root rotation', async () => {
    const oldCa = await createTestCa();
    const newCa = await createTestCa();
    const bundle = oldCa.ca.trustBundle.pem + newCa.ca.trustBundle.pem;
    const serverIdentity = new MeshIdentity({ ...(await oldCa.material('server')), trustBundlePem: bundle });
    const server = await startWhoAmIServer(serverIdentity);
    const clients: AgentClient[] = [];
    try {
      for (const ca of [oldCa, newCa]) {
        const caller = new MeshIdentity({ ...(await ca.material('client')), trustBundlePem: bundle });
        const client = agentClient(server.running.address, createChannelCredentials(caller, SERVER_ID));
        clients.push(client);
        expect((await invoke(client)).response.payload.toString()).toBe(CLIENT_ID);
      }
    } finally {
      for (const client of clients) client.close();
      await server.close();
    }
  });

  it('serves new connections with a renewed certificate, without a restart', async () => {
    const testCa = await createTestCa();
    const serverIdentity = await testCa.identity('server');
    const firstSerial = () => new X509Certificate(serverIdentity.current.certificatePem).serialNumber;
    const before = firstSerial();
    const server = await startWhoAmIServer(serverIdentity);
    const caller = await testCa.identity('client');
    const seenSerial = async () => {
      const client = agentClient(server.running.address, createChannelCredentials(caller, SERVER_ID));
      try {
        const { call } = await invoke(client);
        return new X509Certificate(call.getAuthContext()!.sslPeerCertificate!.raw).serialNumber;
      } finally {
        client.close();
      }
    };
    try {
      expect(await seenSerial()).toBe(before);
      serverIdentity.update(await testCa.material('server'));
      expect(firstSerial()).not.toBe(before);
      expect(await seenSerial()).toBe(firstSerial());
      expect(
        () => new MeshIdentity({ ...serverIdentity.current, privateKeyPem: caller.current.privateKeyPem }),
      ).toThrow(/private key does not belong to the certificate/);
    } finally {
      await server.close();
    }
  });
});

describe('per-connection peer checks', () => {
  it('verifies on the connection the call came in on, and refuses a peer whose certificate expired since', async () => {
    const testCa = await createTestCa();
    let now = Date.now();
    const clock = { now: () => now };
    const serverIdentity = new MeshIdentity(await testCa.material('server'), { clock });
    const sockets: unknown[] = [];
    const server = await startWhoAmIServer(serverIdentity, undefined, (call) =>
      sockets.push(tlsSocketOf(call)),
    );
    const caller = await testCa.identity('client', { ttlMs: 3_600_000 });
    const client = agentClient(server.running.address, createChannelCredentials(caller, SERVER_ID));
    try {
      expect((await invoke(client)).response.payload.toString()).toBe(CLIENT_ID);
      expect(sockets[0]).toBeInstanceOf(TLSSocket);
      now += 2 * 3_600_000; // the client's certificate is now past its notAfter; the connection is still open
      await expectCode(invoke(client), grpc.status.UNAUTHENTICATED, /expired while its connection was open/);
      expect(server.handled()).toBe(1);
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe('SVID rules beyond the chain', () => {
  let testCa: TestCa;
  let serverIdentity: MeshIdentity;
  let server: Awaited<ReturnType<typeof startWhoAmIServer>>;
  const clients: AgentClient[] = [];

  beforeAll(async () => {
    testCa = await createTestCa();
    serverIdentity = await testCa.identity('server');
    server = await startWhoAmIServer(serverIdentity);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
  });

  const cases: Array<[string, NonNullable<Parameters<typeof forgeCertificate>[1]['keyUsage']>]> = [
    ['without keyUsage', 'missing'],
    ['whose keyUsage is not critical', 'not-critical'],
    ['whose keyUsage hides keyCertSign in an unusual encoding', 'hidden-cert-sign'],
  ];

  it.each(cases)('refuses a client certificate %s', async (_label, keyUsage) => {
    const material = await forgeCertificate(testCa, { uris: [CLIENT_ID], keyUsage });
    const client = agentClient(server.running.address, rawClientCredentials(material));
    clients.push(client);
    await expectCode(invoke(client), grpc.status.UNAUTHENTICATED, /keyUsage/);
    expect(server.handled()).toBe(0);
  });

  it('refuses an ID of our trust domain signed by another trust domain’s root in the same bundle', async () => {
    const partner = await createTestCa('partner.example');
    const bundle = testCa.ca.trustBundle.pem + partner.ca.trustBundle.pem;
    const twoDomainServer = await startWhoAmIServer(
      new MeshIdentity({ ...(await testCa.material('server')), trustBundlePem: bundle }),
    );
    try {
      // The partner's root signs an ID in agentmesh.local: it may vouch only for partner.example.
      const impostor = {
        ...(await forgeCertificate(partner, { uris: ['spiffe://agentmesh.local/agent/admin'] })),
        trustBundlePem: bundle,
      };
      const client = agentClient(twoDomainServer.running.address, rawClientCredentials(impostor));
      clients.push(client);
      await expectCode(invoke(client), grpc.status.UNAUTHENTICATED, /speaks for "partner.example"/);

      // The same partner root is fine for its own trust domain.
      const partnerAgent = new MeshIdentity({
        ...(await partner.material('client')),
        trustBundlePem: bundle,
      });
      const honest = agentClient(
        twoDomainServer.running.address,
        createChannelCredentials(partnerAgent, SERVER_ID),
      );
      clients.push(honest);
      expect((await invoke(honest)).response.payload.toString()).toBe(
        'spiffe://partner.example/agent/client',
      );
      expect(twoDomainServer.handled()).toBe(1);
    } finally {
      await twoDomainServer.close();
    }
  });

  it('refuses, on its open connection, a peer whose root was removed from the bundle', async () => {
    const oldCa = await createTestCa();
    const newCa = await createTestCa();
    const both = oldCa.ca.trustBundle.pem + newCa.ca.trustBundle.pem;
    const identity = new MeshIdentity({ ...(await newCa.material('server')), trustBundlePem: both });
    const rotating = await startWhoAmIServer(identity);
    try {
      const oldCaller = new MeshIdentity({ ...(await oldCa.material('client')), trustBundlePem: both });
      const client = agentClient(rotating.running.address, createChannelCredentials(oldCaller, SERVER_ID));
      clients.push(client);
      expect((await invoke(client)).response.payload.toString()).toBe(CLIENT_ID);
      identity.update({ ...identity.current, trustBundlePem: newCa.ca.trustBundle.pem });
      await expectCode(invoke(client), grpc.status.UNAUTHENTICATED, /not issued by a trusted CA/);
    } finally {
      await rotating.close();
    }
  });
});
