import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Code, MeshError, describeFsError, unwrap, quote } from '../core/errors.js';
import {
  CertificateAuthority,
  type Clock,
  type CreateCaOptions,
  type IssuedIdentity,
  type LeafOptions,
} from './certificate-authority.js';
import { CONTROL_PLANE_NAME, validateIdentityName } from '../core/spiffe-id.js';
import { TrustBundle } from './trust-bundle.js';

/**
 * The on-disk layout of a certificate directory (`certs/` by default):
 * - `ca.crt`: the root CA certificate, also the trust bundle peers are given (it may hold several roots);
 * - `ca.key`: the root's private key, mode 0600;
 * - `bundle.crt`: during a root rotation only, every root to trust (old and new);
 * - `ca-next.crt`, `ca-next.key` (0600): during a rotation, the next root before it signs;
 * - `<name>.crt` and `<name>.key` (0600): the identity of one agent, or of `control-plane`.
 */
export const CA_CERT_FILE = 'ca.crt';
/** The root's private key file name. */
export const CA_KEY_FILE = 'ca.key';
/**
 * The trust bundle during a root rotation: the new root and the old one(s). When it is absent, `ca.crt` is the
 * bundle.
 */
export const BUNDLE_FILE = 'bundle.crt';
const PRIVATE_KEY_MODE = 0o600;
/** Names whose `<name>.crt` is a CA file: no identity may take them. */
const RESERVED_FILE_NAMES: ReadonlySet<string> = new Set(['ca', 'ca-next', 'bundle']);
const PUBLIC_FILE_MODE = 0o644;

/** An identity as the transport needs it: certificate, private key and the roots to trust. */
export interface IdentityMaterial {
  certificatePem: string;
  privateKeyPem: string;
  trustBundlePem: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function readText(path: string, what: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new MeshError(Code.NOT_FOUND, `${what} not found at ${path}: ${hint}`, { cause: error });
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `cannot read ${what} at ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Writes files so that either all of them appear whole or none do: each goes to a temporary name first (private
 * keys created with mode 0600 from the start, never readable by others even briefly) and is renamed at the end.
 */
export async function writeFilesAtomically(
  files: Array<{ path: string; contents: string; mode: number }>,
): Promise<void> {
  const suffix = `.tmp-${randomBytes(6).toString('hex')}`;
  const written: string[] = [];
  try {
    for (const file of files) {
      await writeFile(file.path + suffix, file.contents, { mode: file.mode, flag: 'wx' });
      await chmod(file.path + suffix, file.mode); // the umask may have narrowed the mode; set it exactly
      written.push(file.path + suffix);
    }
    for (const file of files) await rename(file.path + suffix, file.path);
  } catch (error) {
    await Promise.all(written.map((path) => rm(path, { force: true })));
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `cannot write ${files.map((f) => f.path).join(', ')}: ${describeFsError(error)}`,
      { cause: error },
    );
  }
}

/**
 * Creates a root CA in `dir` (`ca.crt`, `ca.key`). Refuses to overwrite an existing CA unless `force` is set,
 * because every identity it issued would stop being trusted.
 * @throws MeshError ALREADY_EXISTS when a CA is there and `force` is not set.
 */
export async function initCaDir(
  dir: string,
  options: CreateCaOptions & { force?: boolean },
): Promise<CertificateAuthority> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  if (!options.force && ((await exists(certPath)) || (await exists(keyPath)))) {
    throw new MeshError(
      Code.ALREADY_EXISTS,
      `a CA already exists in ${dir}; pass --force to replace it (every identity it issued will stop being trusted)`,
    );
  }
  const { ca, privateKeyPem } = await CertificateAuthority.create(options);
  await mkdir(dir, { recursive: true }).catch(() => undefined); // a failure shows in the write below
  await writeFilesAtomically([
    { path: keyPath, contents: privateKeyPem, mode: PRIVATE_KEY_MODE },
    { path: certPath, contents: ca.certificatePem, mode: PUBLIC_FILE_MODE },
  ]);
  return ca;
}

/**
 * Loads the CA in `dir`.
 * @throws MeshError NOT_FOUND when there is none, naming the command that creates one.
 */
export async function loadCaDir(dir: string, options: { clock?: Clock } = {}): Promise<CertificateAuthority> {
  const certificatePem = await readText(
    join(dir, CA_CERT_FILE),
    'CA certificate',
    `create one with \`agent-mesh ca init --certs ${dir}\``,
  );
  const privateKeyPem = await readText(
    join(dir, CA_KEY_FILE),
    'CA private key',
    `restore it, or replace the whole CA with \`agent-mesh ca init --certs ${dir} --force\``,
  );
  return new CertificateAuthority(certificatePem, privateKeyPem, options);
}

/**
 * Issues an identity with the CA in `dir` and writes `<name>.crt` and `<name>.key` (0600) beside it. Every input
 * is checked before anything is written.
 */
export async function issueToDir(
  dir: string,
  name: string,
  options: LeafOptions & { clock?: Clock; force?: boolean } = {},
): Promise<IssuedIdentity> {
  unwrap(validateIdentityName(name, { allowControlPlane: true }));
  if (RESERVED_FILE_NAMES.has(name)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `${quote(name)} cannot name an identity: ${name}.crt is the CA's own file`,
    );
  }
  if (!options.force && (await exists(join(dir, `${name}.crt`)))) {
    throw new MeshError(
      Code.ALREADY_EXISTS,
      `an identity ${quote(name)} already exists in ${dir}; pass --force to replace its key and certificate`,
    );
  }
  const ca = await loadCaDir(dir, options);
  const issued = await ca.issue(name, options);
  await writeFilesAtomically([
    { path: join(dir, `${name}.key`), contents: issued.privateKeyPem, mode: PRIVATE_KEY_MODE },
    { path: join(dir, `${name}.crt`), contents: issued.certificatePem, mode: PUBLIC_FILE_MODE },
  ]);
  return issued;
}

async function readBundlePem(dir: string): Promise<string> {
  const bundlePath = join(dir, BUNDLE_FILE);
  if (await exists(bundlePath))
    return readText(bundlePath, 'trust bundle', 'restore it or finish the rotation');
  return readText(
    join(dir, CA_CERT_FILE),
    'trust bundle',
    `create a CA with \`agent-mesh ca init --certs ${dir}\``,
  );
}

/** Loads the trust bundle of `dir`: `bundle.crt` during a root rotation, else `ca.crt`. */
export async function loadTrustBundle(dir: string): Promise<TrustBundle> {
  return TrustBundle.fromPem(await readBundlePem(dir));
}

/** The next root during a rotation, before it signs: `ca-next.crt` and `ca-next.key` (0600). */
export const NEXT_CA_CERT_FILE = 'ca-next.crt';
const NEXT_CA_KEY_FILE = 'ca-next.key';

/**
 * Root rotation, step 1 of 3: creates the next root (same trust domain) beside the current one and adds it to
 * the trust bundle (`bundle.crt`), while the current root keeps signing. Every agent that renews from now on
 * learns to trust both. Step 2, {@link activateRootRotation}, waits until all have renewed once.
 */
export async function prepareRootRotation(
  dir: string,
  options: { ttlMs?: number; clock?: Clock } = {},
): Promise<CertificateAuthority> {
  const current = await loadCaDir(dir, options);
  if (await exists(join(dir, NEXT_CA_CERT_FILE))) {
    throw new MeshError(
      Code.ALREADY_EXISTS,
      `a rotation is already prepared in ${dir}: activate it with \`agent-mesh ca rotate activate\``,
    );
  }
  const previousBundle = await readBundlePem(dir);
  const { ca, privateKeyPem } = await CertificateAuthority.create({
    trustDomain: current.trustDomain,
    ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await writeFilesAtomically([
    { path: join(dir, NEXT_CA_KEY_FILE), contents: privateKeyPem, mode: PRIVATE_KEY_MODE },
    { path: join(dir, NEXT_CA_CERT_FILE), contents: ca.certificatePem, mode: PUBLIC_FILE_MODE },
    { path: join(dir, BUNDLE_FILE), contents: previousBundle + ca.certificatePem, mode: PUBLIC_FILE_MODE },
  ]);
  return ca;
}

/**
 * Root rotation, step 2 of 3: the prepared root becomes `ca.crt`/`ca.key` and signs from now on; the bundle
 * still trusts the old root, so identities it issued keep working until they are renewed. Step 3,
 * {@link finishRootRotation}, waits until every identity has renewed under the new root.
 */
export async function activateRootRotation(dir: string): Promise<CertificateAuthority> {
  const certificatePem = await readText(
    join(dir, NEXT_CA_CERT_FILE),
    'prepared root',
    'prepare a rotation first with `agent-mesh ca rotate prepare`',
  );
  const privateKeyPem = await readText(
    join(dir, NEXT_CA_KEY_FILE),
    'prepared root key',
    'prepare the rotation again',
  );
  const next = new CertificateAuthority(certificatePem, privateKeyPem);
  await writeFilesAtomically([
    { path: join(dir, CA_KEY_FILE), contents: privateKeyPem, mode: PRIVATE_KEY_MODE },
    { path: join(dir, CA_CERT_FILE), contents: certificatePem, mode: PUBLIC_FILE_MODE },
  ]);
  await rm(join(dir, NEXT_CA_KEY_FILE), { force: true });
  await rm(join(dir, NEXT_CA_CERT_FILE), { force: true });
  return next;
}

/** Root rotation, step 3 of 3: only the current root (`ca.crt`) is trusted from now on. */
export async function finishRootRotation(dir: string): Promise<void> {
  await loadCaDir(dir);
  if (await exists(join(dir, NEXT_CA_CERT_FILE))) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `the prepared root in ${dir} is not active yet: run \`agent-mesh ca rotate activate\` first`,
    );
  }
  await rm(join(dir, BUNDLE_FILE), { force: true });
}

/**
 * Loads the identity `name` from `dir`: its certificate, its key and the trust bundle.
 * @throws MeshError NOT_FOUND naming the command that issues the missing identity.
 */
export async function loadIdentity(dir: string, name: string): Promise<IdentityMaterial> {
  unwrap(validateIdentityName(name, { allowControlPlane: true }));
  const type = name === CONTROL_PLANE_NAME ? '' : ' --type <agent type>';
  if (!(await exists(dir))) {
    throw new MeshError(
      Code.NOT_FOUND,
      `no certificate directory at ${dir}: point --certs (or AGENT_MESH_CERTS) at the mesh's, or make one with \`agent-mesh ca init --certs ${dir}\` (\`npm start\` makes certs/ for a development mesh)`,
    );
  }
  const hint = `issue it with \`agent-mesh ca issue ${name}${type} --certs ${dir}\``;
  // One after the other, so that the error names the first missing file, always the same one.
  const certificatePem = await readText(join(dir, `${name}.crt`), `certificate of ${quote(name)}`, hint);
  const privateKeyPem = await readText(join(dir, `${name}.key`), `private key of ${quote(name)}`, hint);
  const trustBundlePem = await readBundlePem(dir);
  return { certificatePem, privateKeyPem, trustBundlePem };
}

/**
 * Returns the CA in `dir`, creating one for `trustDomain` when there is none: what a development mesh needs
 * on its first start.
 */
export async function ensureCaDir(dir: string, trustDomain: string): Promise<CertificateAuthority> {
  if (await exists(join(dir, CA_CERT_FILE))) return loadCaDir(dir);
  await mkdir(dir, { recursive: true });
  return initCaDir(dir, { trustDomain });
}

/**
 * Returns the identity `name` from `dir`, issuing it anew when it is missing, not from this CA, within
 * `renewWithinMs` of expiring, or not entitled to every type of `options.types`.
 */
export async function ensureIdentity(
  dir: string,
  name: string,
  options: LeafOptions & { renewWithinMs?: number } = {},
): Promise<IdentityMaterial> {
  const bundle = await loadTrustBundle(dir);
  try {
    const material = await loadIdentity(dir, name);
    const verified = bundle.verify(
      material.certificatePem,
      Date.now() + (options.renewWithinMs ?? 3_600_000),
    );
    const types = verified.ok ? verified.value.facts.agentTypes : [];
    if (verified.ok && (options.types ?? []).every((type) => types.includes(type))) return material;
  } catch (error) {
    if (!(error instanceof MeshError && error.code === Code.NOT_FOUND)) throw error;
  }
  await issueToDir(dir, name, { ...options, force: true });
  return loadIdentity(dir, name);
}
