import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { formatDuration } from '../core/duration.js';
import { Code, MeshError, describeFsError } from '../core/errors.js';
import { DEFAULT_CA_TTL_MS, DEFAULT_LEAF_TTL_MS } from '../identity/certificate-authority.js';
import {
  activateRootRotation,
  finishRootRotation,
  initCaDir,
  issueToDir,
  loadTrustBundle,
  prepareRootRotation,
} from '../identity/certs-dir.js';
import { parseSpiffeId } from '../core/spiffe-id.js';
import { formatName, readCertificate, splitPemCertificates } from '../identity/x509.js';
import { collect, durationArgument } from './run.js';
import { initNatsAuthority } from '../nats/nats-accounts.js';

/** Default lifetime of the NATS servers' certificate: they do not renew it themselves. */
const NATS_CERT_TTL_MS = 90 * 24 * 3_600_000;

/** The `--dir` option every CA subcommand shares: the certificate directory, `certs` by default. */
function dirOption(): Option {
  return new Option('--dir <dir>', 'certificate directory').default('certs').env('AGENT_MESH_CERTS');
}

async function readCertificateFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new MeshError(Code.NOT_FOUND, `cannot read ${file}: ${describeFsError(error)}`, { cause: error });
  }
  const first = splitPemCertificates(text)[0];
  if (!first) throw new MeshError(Code.INVALID_ARGUMENT, `${file} holds no PEM certificate`);
  return first;
}

/** A certificate's details as `ca inspect` prints them. */
export interface CertificateSummary {
  spiffeId: string | null;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  issuer: string;
  subject: string;
  isCa: boolean;
  /** The agent types the certificate entitles its identity to. */
  agentTypes: readonly string[];
  fingerprintSha256: string;
  dnsNames: string[];
  ipAddresses: string[];
}

function summarize(pem: string): CertificateSummary {
  const facts = readCertificate(pem);
  const { x509, altNames } = facts;
  const uri = altNames.uris.length === 1 ? altNames.uris[0]! : undefined;
  return {
    spiffeId: uri !== undefined && parseSpiffeId(uri).ok ? uri : null,
    serialNumber: x509.serialNumber,
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
    issuer: formatName(x509.issuer),
    subject: formatName(x509.subject),
    isCa: x509.ca || facts.basicConstraintsCa,
    agentTypes: facts.agentTypes,
    fingerprintSha256: x509.fingerprint256,
    dnsNames: altNames.dnsNames,
    ipAddresses: altNames.ipAddresses,
  };
}

function printSummary(summary: CertificateSummary): void {
  const rows: Array<[string, string]> = [
    ['SPIFFE ID', summary.spiffeId ?? '(none: not an X.509-SVID)'],
    ['Serial', summary.serialNumber],
    ['Valid from', summary.notBefore],
    ['Valid until', summary.notAfter],
    ['Issuer', summary.issuer],
    ['Subject', summary.subject],
    ['CA', summary.isCa ? 'yes' : 'no'],
    ['Agent types', summary.agentTypes.length > 0 ? summary.agentTypes.join(', ') : '(none)'],
    ['SHA-256', summary.fingerprintSha256],
  ];
  if (summary.dnsNames.length > 0) rows.push(['DNS names', summary.dnsNames.join(', ')]);
  if (summary.ipAddresses.length > 0) rows.push(['IP addresses', summary.ipAddresses.join(', ')]);
  for (const [label, value] of rows) console.log(`${`${label}:`.padEnd(14)}${value}`);
}

/**
 * The `ca` command group: `init`, `issue`, `inspect`, `verify`. Shared by `agent-mesh ca ...` and the
 * `npm run ca -- ...` script.
 */
export function createCaCommand(name = 'ca'): Command {
  const ca = new Command(name).description(
    'run the built-in certificate authority: create a root, issue and check identities',
  );

  ca.command('init')
    .description('create a root CA (ca.crt, and ca.key with mode 0600) in the certificate directory')
    .addOption(dirOption())
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the mesh', 'agentmesh.local')
    .option(
      '--ttl <duration>',
      `lifetime of the root, e.g. 87600h (default ${formatDuration(DEFAULT_CA_TTL_MS)})`,
      durationArgument,
    )
    .option('--force', 'replace an existing CA (every identity it issued stops being trusted)', false)
    .action(async (options: { dir: string; trustDomain: string; ttl?: number; force: boolean }) => {
      const authority = await initCaDir(options.dir, {
        trustDomain: options.trustDomain,
        ttlMs: options.ttl ?? DEFAULT_CA_TTL_MS,
        force: options.force,
      });
      console.log(
        `created CA for trust domain ${authority.trustDomain} in ${resolve(options.dir)} (valid until ${authority.notAfter.toISOString()})`,
      );
    });

  ca.command('issue')
    .description('issue an identity <name>.crt and <name>.key (0600) for an agent, or for "control-plane"')
    .argument('<name>', 'agent name (one SPIFFE path segment), or control-plane')
    .addOption(dirOption())
    .option(
      '--ttl <duration>',
      `certificate lifetime, e.g. 24h (default ${formatDuration(DEFAULT_LEAF_TTL_MS)})`,
      durationArgument,
    )
    .option('--dns <name>', 'add a DNS name SAN (repeatable)', collect, [])
    .option('--ip <address>', 'add an IP address SAN (repeatable)', collect, [])
    .option(
      '--type <type>',
      'an agent type the identity may register as and is known by in policies (repeatable)',
      collect,
      [],
    )
    .option('--force', 'replace an existing identity of that name (new key, new certificate)', false)
    .action(
      async (
        name: string,
        options: { dir: string; ttl?: number; dns: string[]; ip: string[]; type: string[]; force: boolean },
      ) => {
        const issued = await issueToDir(options.dir, name, {
          ttlMs: options.ttl ?? DEFAULT_LEAF_TTL_MS,
          dnsNames: options.dns,
          ipAddresses: options.ip,
          types: options.type,
          force: options.force,
        });
        const types = options.type.length > 0 ? `, entitled to type ${options.type.join(', ')}` : '';
        console.log(
          `issued ${issued.spiffeId.uri} -> ${resolve(options.dir, `${name}.crt`)}, ${name}.key (valid until ${issued.notAfter.toISOString()}${types})`,
        );
      },
    );

  ca.command('nats')
    .description(
      'make NATS servers part of the mesh, for durable events: issue their certificate (<name>.crt, .key) and write ' +
        'nats/server.conf (trust in the mesh, TLS from the mesh CA) and the NATS authority the control plane signs ' +
        "agents' credentials with",
    )
    .addOption(dirOption())
    .option('--name <name>', "the servers' identity: agents check it", 'nats')
    .option(
      '--ip <address>',
      'an IP address the servers are reached at (repeatable; default 127.0.0.1)',
      collect,
      [],
    )
    .option('--dns <name>', 'a DNS name the servers are reached at (repeatable)', collect, [])
    .option(
      '--ttl <duration>',
      `lifetime of the servers' certificate (default ${formatDuration(NATS_CERT_TTL_MS)}; run again with --force before it ends, then reload NATS)`,
      durationArgument,
    )
    .option(
      '--force',
      'replace the certificate and the NATS authority (reconfigure every NATS server after)',
      false,
    )
    .action(
      async (options: {
        dir: string;
        name: string;
        ip: string[];
        dns: string[];
        ttl?: number;
        force: boolean;
      }) => {
        const issued = await issueToDir(options.dir, options.name, {
          ttlMs: options.ttl ?? NATS_CERT_TTL_MS,
          ipAddresses: options.ip.length > 0 ? options.ip : ['127.0.0.1'],
          dnsNames: options.dns,
          force: options.force,
        });
        const written = await initNatsAuthority(
          options.dir,
          {
            certFile: resolve(options.dir, `${options.name}.crt`),
            keyFile: resolve(options.dir, `${options.name}.key`),
            caFile: resolve(options.dir, 'ca.crt'),
          },
          { force: options.force },
        );
        console.log(
          `issued ${issued.spiffeId.uri} -> ${resolve(options.dir, `${options.name}.crt`)} (valid until ${issued.notAfter.toISOString()})`,
        );
        console.log(
          `wrote ${written.serverConfig}: include it from each NATS server's configuration (the path is relative to that file)`,
        );
        console.log(`wrote ${written.exampleConfig}: one server on 127.0.0.1:4222; run it with`);
        console.log(`  nats-server -c ${written.exampleConfig}`);
        console.log(`then start the control plane with --events nats://127.0.0.1:4222`);
      },
    );

  ca.command('inspect')
    .description('show a certificate: SPIFFE ID, serial, validity, issuer, SHA-256 fingerprint')
    .argument('<file>', 'PEM certificate file')
    .option('--json', 'print JSON instead of a table', false)
    .action(async (file: string, options: { json: boolean }) => {
      const summary = summarize(await readCertificateFile(file));
      if (options.json) console.log(JSON.stringify(summary, null, 2));
      else printSummary(summary);
    });

  ca.command('verify')
    .description("check a certificate against the directory's CA and say why it fails")
    .argument('<file>', 'PEM certificate file')
    .addOption(dirOption())
    .action(async (file: string, options: { dir: string }) => {
      const certificate = await readCertificateFile(file);
      const bundle = await loadTrustBundle(options.dir);
      const result = bundle.verify(certificate);
      if (!result.ok) throw new MeshError(result.error.code, `${file}: ${result.error.message}`);
      console.log(
        `${file}: OK, ${result.value.spiffeId.uri}, valid until ${new Date(result.value.facts.x509.validTo).toISOString()}`,
      );
    });

  const rotate = ca
    .command('rotate')
    .description(
      'rotate the root without downtime: prepare, wait for every agent to renew, activate, wait again, finish',
    );
  rotate
    .command('prepare')
    .description(
      'create the next root and add it to the trust bundle (bundle.crt); the current root keeps signing',
    )
    .addOption(dirOption())
    .option('--ttl <duration>', 'lifetime of the new root', durationArgument)
    .action(async (options: { dir: string; ttl?: number }) => {
      const next = await prepareRootRotation(options.dir, options.ttl ? { ttlMs: options.ttl } : {});
      console.log(
        `prepared the next root (valid until ${next.notAfter.toISOString()}); reload the control plane (SIGHUP), wait until every agent has renewed, then run \`agent-mesh ca rotate activate\``,
      );
    });
  rotate
    .command('activate')
    .description('make the prepared root the signing root; the bundle still trusts the old one')
    .addOption(dirOption())
    .action(async (options: { dir: string }) => {
      await activateRootRotation(options.dir);
      console.log(
        'the new root signs from now on; reload the control plane, wait until every agent has renewed, then run `agent-mesh ca rotate finish`',
      );
    });
  rotate
    .command('finish')
    .description('stop trusting the old root (removes bundle.crt)')
    .addOption(dirOption())
    .action(async (options: { dir: string }) => {
      await finishRootRotation(options.dir);
      console.log('rotation finished: only the current root is trusted; reload the control plane');
    });

  return ca;
}
