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
import { collect, durationArgument, nonEmptyArgument, UsageError } from './run.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { initNatsAuthority } from '../nats/nats-accounts.js';

/** Default lifetime of the NATS servers' certificate: they do not renew it themselves. */
const NATS_CERT_TTL_MS = 90 * 24 * 3_600_000;

/**
 * `--certs <dir>`, the certificate directory (`certs` by default), as on every other command; `--dir`, the name
 * these commands had first, stays as a hidden alias.
 */
function certsOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--certs <dir>', 'certificate directory')
        .default('certs')
        .env('AGENT_MESH_CERTS')
        .argParser(nonEmptyArgument),
    )
    .addOption(new Option('--dir <dir>', 'the same as --certs').argParser(nonEmptyArgument).hideHelp());
}

/** Applies the `--dir` alias before an action runs; both flags with different directories are a usage error. */
function applyDirAlias(_hooked: Command, action: Command): void {
  const { dir, certs } = action.opts<{ dir?: string; certs?: string }>();
  if (dir === undefined) return;
  if (action.getOptionValueSource('certs') === 'cli' && certs !== dir) {
    action.error(`error: --dir ${dir} and --certs ${certs} name different directories: give only --certs`, {
      exitCode: 2,
      code: 'agent-mesh.conflictingOptions',
    });
  }
  action.setOptionValueWithSource('certs', dir, 'cli');
}

async function readCertificateFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${describeFsError(error)}`);
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

function summaryText(summary: CertificateSummary): string {
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
  return rows.map(([label, value]) => `${`${label}:`.padEnd(14)}${value}`).join('\n');
}

/**
 * The `ca` command group: `init`, `issue`, `inspect`, `verify`. Shared by `agent-mesh ca ...` and the
 * `npm run ca -- ...` script.
 */
export function createCaCommand(name = 'ca'): Command {
  const ca = new Command(name)
    .description('run the built-in certificate authority: create a root, issue and check identities')
    .hook('preAction', applyDirAlias);

  certsOptions(ca.command('init'))
    .description('create a root CA (ca.crt, and ca.key with mode 0600) in the certificate directory')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the mesh', 'agentmesh.local')
    .option(
      '--ttl <duration>',
      `lifetime of the root, e.g. 87600h (default ${formatDuration(DEFAULT_CA_TTL_MS)})`,
      durationArgument,
    )
    .option('--force', 'replace an existing CA (every identity it issued stops being trusted)', false)
    .action(async (options: { certs: string; trustDomain: string; ttl?: number; force: boolean }) => {
      const authority = await initCaDir(options.certs, {
        trustDomain: options.trustDomain,
        ttlMs: options.ttl ?? DEFAULT_CA_TTL_MS,
        force: options.force,
      });
      console.log(
        `created CA for trust domain ${authority.trustDomain} in ${resolve(options.certs)} (valid until ${authority.notAfter.toISOString()})`,
      );
    });

  certsOptions(ca.command('issue'))
    .description('issue an identity <name>.crt and <name>.key (0600) for an agent, or for "control-plane"')
    .argument('<name>', 'agent name (one SPIFFE path segment), or control-plane')
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
        options: { certs: string; ttl?: number; dns: string[]; ip: string[]; type: string[]; force: boolean },
      ) => {
        const issued = await issueToDir(options.certs, name, {
          ttlMs: options.ttl ?? DEFAULT_LEAF_TTL_MS,
          dnsNames: options.dns,
          ipAddresses: options.ip,
          types: options.type,
          force: options.force,
        });
        const types = options.type.length > 0 ? `, entitled to type ${options.type.join(', ')}` : '';
        console.log(
          `issued ${issued.spiffeId.uri} -> ${resolve(options.certs, `${name}.crt`)}, ${name}.key (valid until ${issued.notAfter.toISOString()}${types})`,
        );
      },
    );

  certsOptions(ca.command('nats'))
    .description(
      'make NATS servers part of the mesh, for durable events: issue their certificate (<name>.crt, .key) and write ' +
        'nats/server.conf (trust in the mesh, TLS from the mesh CA) and the NATS authority the control plane signs ' +
        "agents' credentials with",
    )
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
        certs: string;
        name: string;
        ip: string[];
        dns: string[];
        ttl?: number;
        force: boolean;
      }) => {
        const issued = await issueToDir(options.certs, options.name, {
          ttlMs: options.ttl ?? NATS_CERT_TTL_MS,
          ipAddresses: options.ip.length > 0 ? options.ip : ['127.0.0.1'],
          dnsNames: options.dns,
          force: options.force,
        });
        const written = await initNatsAuthority(
          options.certs,
          {
            certFile: resolve(options.certs, `${options.name}.crt`),
            keyFile: resolve(options.certs, `${options.name}.key`),
            caFile: resolve(options.certs, 'ca.crt'),
          },
          { force: options.force },
        );
        console.log(
          `issued ${issued.spiffeId.uri} -> ${resolve(options.certs, `${options.name}.crt`)} (valid until ${issued.notAfter.toISOString()})`,
        );
        console.log(
          `wrote ${written.serverConfig}: include it from each NATS server's configuration (the path is relative to that file)`,
        );
        console.log(`wrote ${written.exampleConfig}: one server on 127.0.0.1:4222; run it with`);
        console.log(`  nats-server -c ${written.exampleConfig}`);
        console.log(`then start the control plane with --events nats://127.0.0.1:4222`);
      },
    );

  withOutputOptions(ca.command('inspect'))
    .description('show a certificate: SPIFFE ID, serial, validity, issuer, SHA-256 fingerprint')
    .argument('<file>', 'PEM certificate file')
    .action(async (file: string, options: OutputFlags) => {
      const summary = summarize(await readCertificateFile(file));
      await printResult(options, summary, () => summaryText(summary));
    });

  certsOptions(ca.command('verify'))
    .description("check a certificate against the directory's CA and say why it fails")
    .argument('<file>', 'PEM certificate file')
    .action(async (file: string, options: { certs: string }) => {
      const certificate = await readCertificateFile(file);
      const bundle = await loadTrustBundle(options.certs);
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
  certsOptions(rotate.command('prepare'))
    .description(
      'create the next root and add it to the trust bundle (bundle.crt); the current root keeps signing',
    )
    .option('--ttl <duration>', 'lifetime of the new root', durationArgument)
    .action(async (options: { certs: string; ttl?: number }) => {
      const next = await prepareRootRotation(options.certs, options.ttl ? { ttlMs: options.ttl } : {});
      console.log(
        `prepared the next root (valid until ${next.notAfter.toISOString()}); reload the control plane (SIGHUP), wait until every agent has renewed, then run \`agent-mesh ca rotate activate\``,
      );
    });
  certsOptions(rotate.command('activate'))
    .description('make the prepared root the signing root; the bundle still trusts the old one')
    .action(async (options: { certs: string }) => {
      await activateRootRotation(options.certs);
      console.log(
        'the new root signs from now on; reload the control plane, wait until every agent has renewed, then run `agent-mesh ca rotate finish`',
      );
    });
  certsOptions(rotate.command('finish'))
    .description('stop trusting the old root (removes bundle.crt)')
    .action(async (options: { certs: string }) => {
      await finishRootRotation(options.certs);
      console.log('rotation finished: only the current root is trusted; reload the control plane');
    });

  return ca;
}
