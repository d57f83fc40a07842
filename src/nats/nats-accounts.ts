/**
 * The mesh's authority over NATS: an operator, a system account and one account for the mesh's events, in NATS's
 * decentralized JWT model. NATS servers trust the operator (their configuration preloads the two accounts); the
 * control plane holds the events account's key and signs a short-lived user JWT for each identity that asks, with
 * NATS permissions derived from the mesh's policies. Nothing else can sign users, so an agent can do on NATS only
 * what its credentials from the control plane allow.
 *
 * On disk, in the certificate directory's `nats/`: `authority.json` (the public JWTs and keys), `operator.nk` and
 * `account.nk` (the seeds, mode 0600), `server.conf`, the part of a NATS server's configuration that makes it
 * trust the mesh (`include` it: NATS resolves includes relative to the including file), and `nats-server.conf`, a
 * single server's whole configuration that includes it (`nats-server -c certs/nats/nats-server.conf`).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  createAccount,
  createOperator,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fromSeed,
  type Account,
  type User,
} from '@nats-io/jwt';
import { Code, MeshError, describeFsError } from '../core/errors.js';
import { writeFilesAtomically } from '../identity/certs-dir.js';

/** The directory, inside a certificate directory, of the NATS authority's files. */
export const NATS_DIR = 'nats';
const AUTHORITY_FILE = 'authority.json';
const OPERATOR_SEED_FILE = 'operator.nk';
const ACCOUNT_SEED_FILE = 'account.nk';
const SERVER_CONF_FILE = 'server.conf';
const EXAMPLE_CONF_FILE = 'nats-server.conf';

/** The public half of the authority: what NATS servers are configured with. */
export interface NatsAuthorityPublic {
  operatorJwt: string;
  systemAccount: { publicKey: string; jwt: string };
  account: { publicKey: string; jwt: string };
}

/** The authority with the events account's seed, which signs users: the control plane's. */
export interface NatsAuthority extends NatsAuthorityPublic {
  accountSeed: string;
}

const UNLIMITED = {
  subs: -1,
  conn: -1,
  leaf: -1,
  imports: -1,
  exports: -1,
  data: -1,
  payload: -1,
  wildcards: true,
};

/** Creates a new operator with a system account and the events account (JetStream enabled, no limits). */
export async function createNatsAuthority(): Promise<NatsAuthority & { operatorSeed: string }> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const operatorJwt = await encodeOperator('agent-mesh', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, { limits: UNLIMITED } as Partial<Account>, {
    signer: operator,
  });
  const limits = { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const accountJwt = await encodeAccount('AGENTMESH', account, { limits } as Partial<Account>, {
    signer: operator,
  });
  return {
    operatorJwt,
    operatorSeed: new TextDecoder().decode(operator.getSeed()),
    systemAccount: { publicKey: system.getPublicKey(), jwt: systemJwt },
    account: { publicKey: account.getPublicKey(), jwt: accountJwt },
    accountSeed: new TextDecoder().decode(account.getSeed()),
  };
}

/** The server TLS files a NATS server's configuration names (absolute paths are best: NATS resolves relative ones). */
export interface NatsServerTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * The configuration that makes a NATS server part of the mesh: trust in the operator with both accounts preloaded
 * (`resolver: MEMORY`), and client TLS with the mesh CA's certificates, clients required to present one.
 */
export function natsServerConfig(authority: NatsAuthorityPublic, tls: NatsServerTls): string {
  const q = JSON.stringify;
  return [
    '# agent-mesh: the NATS operator and accounts of this mesh, and TLS from the mesh CA.',
    '# Include it from the server configuration (`include "server.conf"`, relative to that file).',
    `operator: ${q(authority.operatorJwt)}`,
    `system_account: ${authority.systemAccount.publicKey}`,
    "# An event may carry a 1 MiB payload (the mesh's default limit) plus its envelope: over NATS's 1 MB default.",
    'max_payload: 2MB',
    '# A user JWT lists the consumers of each subscription (up to 64): over the 4 KB default of a CONNECT line.',
    'max_control_line: 64KB',
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${authority.systemAccount.publicKey}: ${q(authority.systemAccount.jwt)}`,
    `  ${authority.account.publicKey}: ${q(authority.account.jwt)}`,
    '}',
    'tls {',
    `  cert_file: ${q(tls.certFile)}`,
    `  key_file: ${q(tls.keyFile)}`,
    `  ca_file: ${q(tls.caFile)}`,
    '  verify: true',
    '}',
    '',
  ].join('\n');
}

/** One NATS server with JetStream on loopback's port 4222, trusting the mesh (`server.conf`, next to it). */
function exampleServerConfig(storeDir: string): string {
  return [
    "# A single NATS server for the mesh's durable events. For a cluster, give each server its own copy with a",
    '# server_name and a cluster { ... } block (see the README), keeping the include.',
    'listen: 127.0.0.1:4222',
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    'include "server.conf"',
    '',
  ].join('\n');
}

/**
 * Writes a new authority to `<certsDir>/nats/` with the server configuration for `tls`. Refuses to replace one
 * unless `force` is set: servers configured with the old one would refuse every credential.
 */
export async function initNatsAuthority(
  certsDir: string,
  tls: NatsServerTls,
  options: { force?: boolean } = {},
): Promise<NatsAuthorityPublic & { dir: string; serverConfig: string; exampleConfig: string }> {
  const dir = join(certsDir, NATS_DIR);
  const existing = await readNatsAuthority(certsDir).catch((error: unknown) => {
    if (error instanceof MeshError && error.code === Code.NOT_FOUND) return undefined;
    throw error;
  });
  if (existing && !options.force) {
    throw new MeshError(
      Code.ALREADY_EXISTS,
      `a NATS authority already exists in ${dir}: NATS servers trust it; pass --force to replace it (then reconfigure every NATS server)`,
    );
  }
  const authority = await createNatsAuthority();
  const { operatorSeed, accountSeed, ...publicPart } = authority;
  const absolute = {
    certFile: resolve(tls.certFile),
    keyFile: resolve(tls.keyFile),
    caFile: resolve(tls.caFile),
  };
  const serverConfig = natsServerConfig(publicPart, absolute);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFilesAtomically([
    { path: join(dir, OPERATOR_SEED_FILE), contents: `${operatorSeed}\n`, mode: 0o600 },
    { path: join(dir, ACCOUNT_SEED_FILE), contents: `${accountSeed}\n`, mode: 0o600 },
    { path: join(dir, AUTHORITY_FILE), contents: `${JSON.stringify(publicPart, null, 2)}\n`, mode: 0o644 },
    { path: join(dir, SERVER_CONF_FILE), contents: serverConfig, mode: 0o644 },
    {
      path: join(dir, EXAMPLE_CONF_FILE),
      contents: exampleServerConfig(join(dir, 'jetstream')),
      mode: 0o644,
    },
  ]);
  return {
    ...publicPart,
    dir,
    serverConfig: join(dir, SERVER_CONF_FILE),
    exampleConfig: join(dir, EXAMPLE_CONF_FILE),
  };
}

/** Reads the authority the control plane signs users with. NOT_FOUND says how to create one. */
export async function readNatsAuthority(certsDir: string): Promise<NatsAuthority> {
  const dir = join(certsDir, NATS_DIR);
  const read = async (file: string) => {
    try {
      return await readFile(join(dir, file), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new MeshError(
          Code.NOT_FOUND,
          `no NATS authority in ${dir}: create it with \`agent-mesh ca nats --certs ${certsDir}\``,
          { cause: error },
        );
      }
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `cannot read ${join(dir, file)}: ${describeFsError(error)}`,
        {
          cause: error,
        },
      );
    }
  };
  const publicPart = JSON.parse(await read(AUTHORITY_FILE)) as NatsAuthorityPublic;
  return { ...publicPart, accountSeed: (await read(ACCOUNT_SEED_FILE)).trim() };
}

/** NATS subject permissions: what a user may publish to and subscribe to. Deny wins over allow. */
export interface NatsPermissions {
  pub: { allow: string[]; deny: string[] };
  sub: { allow: string[]; deny: string[] };
}

/**
 * Signs a user JWT for `publicKey` (an nkey the caller generated; its seed never leaves it), named after the mesh
 * identity it stands for, with `permissions`, valid until `expiresAt` (0: no expiry).
 */
export async function signNatsUser(
  authority: NatsAuthority,
  user: { name: string; publicKey: string; permissions: NatsPermissions; expiresAt: number },
): Promise<string> {
  const claims: Partial<User> = {
    pub: user.permissions.pub,
    sub: user.permissions.sub,
    subs: -1,
    data: -1,
    payload: -1,
  };
  try {
    return await encodeUser(
      user.name,
      user.publicKey,
      fromSeed(new TextEncoder().encode(authority.accountSeed)),
      claims,
      {
        exp: Math.floor(user.expiresAt / 1000),
      },
    );
  } catch (error) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid NATS user public key: ${(error as Error).message}; send the public key of a user nkey (it starts with "U")`,
      { cause: error },
    );
  }
}
