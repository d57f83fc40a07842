import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaDir } from '../../src/identity/certs-dir.js';
import { createTestCa, forgeCertificate, type TestCa } from '../helpers/test-ca.js';
import { runEntryPoint, type CliResult } from '../helpers/run-cli.js';
import { requireSystemBinary } from '../helpers/system-binary.js';
import { makeTempDir } from '../helpers/temp-dir.js';

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** A refusal: non-zero exit, exactly one line on stderr that matches, nothing on stdout. */
function expectOneLineError(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

describe('the CA script and `agent-mesh ca`', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let certs: string;

  beforeAll(async () => {
    temp = await makeTempDir();
    certs = join(temp.dir, 'certs');
    await mkdir(certs);
  });

  afterAll(async () => {
    await temp?.remove();
  });

  describe('happy path', () => {
    it('init creates ca.crt and a 0600 ca.key', async () => {
      const result = await runEntryPoint('ca-script', [
        'init',
        '--dir',
        certs,
        '--trust-domain',
        'example.test',
        '--ttl',
        '8760h',
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/created CA for trust domain example.test/);
      expect(await listing(certs)).toEqual(['ca.crt', 'ca.key']);
      expect(await mode(join(certs, 'ca.key'))).toBe(0o600);
    });

    it('issue writes <name>.crt and a 0600 <name>.key with the SPIFFE ID', async () => {
      const result = await runEntryPoint('agent-mesh', [
        'ca',
        'issue',
        'summarizer-1',
        '--dir',
        certs,
        '--ttl',
        '1h',
        '--dns',
        'localhost',
        '--ip',
        '127.0.0.1',
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/issued spiffe:\/\/example.test\/agent\/summarizer-1/);
      expect(await mode(join(certs, 'summarizer-1.key'))).toBe(0o600);
      expect(await mode(join(certs, 'summarizer-1.crt'))).toBe(0o644);
    });

    it('issue control-plane gets the control plane ID', async () => {
      const result = await runEntryPoint('ca-script', ['issue', 'control-plane', '--dir', certs]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/issued spiffe:\/\/example.test\/control-plane /);
    });

    it('inspect shows SPIFFE ID, serial, validity, issuer and fingerprint', async () => {
      const result = await runEntryPoint('ca-script', ['inspect', join(certs, 'summarizer-1.crt')]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^SPIFFE ID: +spiffe:\/\/example.test\/agent\/summarizer-1$/m);
      expect(result.stdout).toMatch(/^Serial: +[0-9A-F]+$/m);
      expect(result.stdout).toMatch(/^Valid from: +\d{4}-/m);
      expect(result.stdout).toMatch(/^Valid until: +\d{4}-/m);
      expect(result.stdout).toMatch(
        /^Issuer: +O=agent-mesh, CN=agent-mesh root CA example.test [0-9a-f]{8}$/m,
      );
      expect(result.stdout).toMatch(/^SHA-256: +([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
      const json = await runEntryPoint('ca-script', ['inspect', '--json', join(certs, 'summarizer-1.crt')]);
      expect(JSON.parse(json.stdout)).toMatchObject({
        spiffeId: 'spiffe://example.test/agent/summarizer-1',
        isCa: false,
        dnsNames: ['localhost'],
      });
    });

    it('verify accepts an identity this CA issued', async () => {
      const result = await runEntryPoint('ca-script', [
        'verify',
        join(certs, 'summarizer-1.crt'),
        '--dir',
        certs,
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/OK, spiffe:\/\/example.test\/agent\/summarizer-1/);
    });

    it('init creates a directory that does not exist yet', async () => {
      const nested = join(temp.dir, 'new', 'certs');
      const result = await runEntryPoint('ca-script', ['init', '--dir', nested]);
      expect(result.code, result.stderr).toBe(0);
      expect(await listing(nested)).toEqual(['ca.crt', 'ca.key']);
    });

    it('issue --force replaces an existing identity', async () => {
      const before = await readFile(join(certs, 'summarizer-1.key'), 'utf8');
      const result = await runEntryPoint('ca-script', ['issue', 'summarizer-1', '--dir', certs, '--force']);
      expect(result.code, result.stderr).toBe(0);
      expect(await readFile(join(certs, 'summarizer-1.key'), 'utf8')).not.toBe(before);
    });

    it('--help works on every subcommand', async () => {
      for (const sub of ['init', 'issue', 'inspect', 'verify']) {
        const result = await runEntryPoint('ca-script', [sub, '--help']);
        expect(result.code, `${sub}: ${result.stderr}`).toBe(0);
        expect(result.stdout).toMatch(/^Usage: agent-mesh ca /);
      }
    });
  });

  describe('openssl agrees', () => {
    const openssl = requireSystemBinary('openssl', 'openssl');

    it.skipIf(!openssl)(
      'verifies the issued identity against ca.crt and shows the SAN and key usages',
      () => {
        const verify = execFileSync(
          openssl!,
          ['verify', '-CAfile', join(certs, 'ca.crt'), join(certs, 'summarizer-1.crt')],
          { encoding: 'utf8' },
        );
        expect(verify.trim()).toBe(`${join(certs, 'summarizer-1.crt')}: OK`);
        const text = execFileSync(
          openssl!,
          ['x509', '-in', join(certs, 'summarizer-1.crt'), '-noout', '-text'],
          { encoding: 'utf8' },
        );
        expect(text).toMatch(/URI:spiffe:\/\/example.test\/agent\/summarizer-1/);
        expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
        expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
        expect(text).toMatch(
          /X509v3 Extended Key Usage: ?\s+TLS Web Server Authentication, TLS Web Client Authentication/,
        );
        expect(text).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
        expect(text).toMatch(/X509v3 Authority Key Identifier/);
      },
    );
  });

  describe('bad input: one clear line, non-zero exit, nothing written', () => {
    let before: string[];
    let caKey: string;

    beforeAll(async () => {
      before = await listing(certs);
      caKey = await readFile(join(certs, 'ca.key'), 'utf8');
    });

    const cases: Array<[string, () => string[], RegExp]> = [
      [
        'an existing CA without --force',
        () => ['init', '--dir', certs],
        /a CA already exists in .*; pass --force to replace it/,
      ],
      ['a relative-path name', () => ['issue', '../x', '--dir', certs], /invalid name "\.\.\/x"/],
      ['an empty name', () => ['issue', '', '--dir', certs], /name is empty/],
      ['a name with a slash', () => ['issue', 'a/b', '--dir', certs], /invalid name "a\/b"/],
      [
        '"control-plane" lookalike with spaces',
        () => ['issue', 'control plane', '--dir', certs],
        /invalid name/,
      ],
      [
        'a bad TTL',
        () => ['issue', 'x', '--ttl', '5x', '--dir', certs],
        /argument '5x' is invalid.*invalid duration/,
      ],
      ['a zero TTL', () => ['init', '--dir', certs, '--force', '--ttl', '0s'], /must be longer than 0ms/],
      [
        'a bad trust domain',
        () => ['init', '--dir', certs, '--force', '--trust-domain', 'Bad_Domain:1'],
        /invalid trust domain/,
      ],
      [
        'a bad IP SAN',
        () => ['issue', 'x', '--ip', '999.1.1.1', '--dir', certs],
        /invalid IP address "999.1.1.1"/,
      ],
      ['a bad DNS SAN', () => ['issue', 'x', '--dns', 'no spaces', '--dir', certs], /invalid DNS name/],
      [
        'a missing CA',
        () => ['issue', 'x', '--dir', join(certs, 'missing')],
        /CA certificate not found at .*: create one with `agent-mesh ca init/,
      ],
      ['an unknown flag', () => ['issue', 'x', '--bogus', '--dir', certs], /unknown option '--bogus'/],
      ['a missing argument', () => ['issue', '--dir', certs], /missing required argument 'name'/],
      [
        'a missing file to inspect',
        () => ['inspect', join(certs, 'nope.crt')],
        /cannot read .*nope.crt: no such file/,
      ],
      ['a directory to inspect', () => ['inspect', certs], /cannot read .*: it is a directory/],
      [
        'a missing file to verify',
        () => ['verify', join(certs, 'nope.crt'), '--dir', certs],
        /cannot read .*nope.crt: no such file/,
      ],
      [
        'an identity named like the CA',
        () => ['issue', 'ca', '--dir', certs],
        /"ca" cannot name an identity/,
      ],
      [
        'an existing identity without --force',
        () => ['issue', 'summarizer-1', '--dir', certs],
        /identity "summarizer-1" already exists .*--force/,
      ],
      [
        'a TTL beyond 100 years',
        () => ['init', '--dir', certs, '--force', '--ttl', '1000000d'],
        /at most 100 years/,
      ],
      [
        'an absurdly long TTL',
        () => ['issue', 'x', '--ttl', '99999999999999999999d', '--dir', certs],
        /far too long/,
      ],
      [
        'a certificate TTL under 5 seconds',
        () => ['issue', 'x', '--ttl', '1ms', '--dir', certs],
        /at least 5000ms/,
      ],
      [
        'an IP SAN with a zone id',
        () => ['issue', 'x', '--ip', 'fe80::1%eth0', '--dir', certs],
        /no zone id/,
      ],
      [
        'a trust domain with an empty label',
        () => ['init', '--dir', certs, '--force', '--trust-domain', 'a..b'],
        /invalid trust domain/,
      ],
      ['a hidden-file name', () => ['issue', '.hidden', '--dir', certs], /must not start with "."/],
    ];

    it.each(cases)('refuses %s', async (_what, args, message) => {
      expectOneLineError(await runEntryPoint('ca-script', args()), message);
      expect(await listing(certs)).toEqual(before);
      expect(await readFile(join(certs, 'ca.key'), 'utf8')).toBe(caKey);
    });

    it('refuses to inspect a file that holds no certificate', async () => {
      const notACert = join(temp.dir, 'notes.txt');
      await writeFile(notACert, 'hello');
      expectOneLineError(await runEntryPoint('ca-script', ['inspect', notACert]), /holds no PEM certificate/);
    });

    it('verify says why a certificate from another CA fails', async () => {
      const other = await createTestCa('example.test');
      const foreign = join(temp.dir, 'foreign.crt');
      await writeFile(foreign, (await other.ca.issue('summarizer-1')).certificatePem);
      expectOneLineError(
        await runEntryPoint('ca-script', ['verify', foreign, '--dir', certs]),
        /foreign.crt: certificate was not issued by a trusted CA/,
      );
    });

    it('verify says why a certificate in another trust domain fails, even when this CA signed it', async () => {
      const diskCa = { ca: await loadCaDir(certs), caKeyPem: caKey } as TestCa;
      const foreign = join(temp.dir, 'elsewhere.crt');
      await writeFile(
        foreign,
        (await forgeCertificate(diskCa, { uris: ['spiffe://elsewhere.test/agent/x'] })).certificatePem,
      );
      expectOneLineError(
        await runEntryPoint('ca-script', ['verify', foreign, '--dir', certs]),
        /elsewhere.crt: certificate is not a valid X.509-SVID: its trust domain "elsewhere.test" is not trusted/,
      );
    });
  });
});
