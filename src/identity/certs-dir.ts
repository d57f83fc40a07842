import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Code, MeshError, unwrap } from '../errors.js';
import {
  CertificateAuthority,
  type Clock,
  type CreateCaOptions,
  type IssuedIdentity,
  type LeafOptions,
} from './certificate-authority.js';
import { validateIdentityName } from './spiffe-id.js';
import { TrustBundle } from './trust-bundle.js';

/**
 * The on-disk layout of a certificate directory (`certs/` by default):
 * - `ca.crt`: the root CA certificate, also the trust bundle peers are given (it may hold several roots);
 * - `ca.key`: the root's private key, mode 0600;
 * - `<name>.crt` and `<name>.key` (0600): the identity of one agent, or of `control-plane`.
 */
export const CA_CERT_FILE = 'ca.crt';
/** The root's private key file name. */
export const CA_KEY_FILE = 'ca.key';
const PRIVATE_KEY_MODE = 0o600;
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
async function writeFilesAtomically(
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
      `cannot write ${files.map((f) => f.path).join(', ')}: ${(error as Error).message}`,
      {
        cause: error,
      },
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
  const hint = `create one with \`agent-mesh ca init --dir ${dir}\``;
  const certificatePem = await readText(join(dir, CA_CERT_FILE), 'CA certificate', hint);
  const privateKeyPem = await readText(join(dir, CA_KEY_FILE), 'CA private key', hint);
  return new CertificateAuthority(certificatePem, privateKeyPem, options);
}

/**
 * Issues an identity with the CA in `dir` and writes `<name>.crt` and `<name>.key` (0600) beside it. Every input
 * is checked before anything is written.
 */
export async function issueToDir(
  dir: string,
  name: string,
  options: LeafOptions & { clock?: Clock } = {},
): Promise<IssuedIdentity> {
  unwrap(validateIdentityName(name, { allowControlPlane: true }));
  const ca = await loadCaDir(dir, options);
  const issued = await ca.issue(name, options);
  await writeFilesAtomically([
    { path: join(dir, `${name}.key`), contents: issued.privateKeyPem, mode: PRIVATE_KEY_MODE },
    { path: join(dir, `${name}.crt`), contents: issued.certificatePem, mode: PUBLIC_FILE_MODE },
  ]);
  return issued;
}

/** Loads the trust bundle of `dir` (its `ca.crt`). */
export async function loadTrustBundle(dir: string): Promise<TrustBundle> {
  const pem = await readText(
    join(dir, CA_CERT_FILE),
    'trust bundle',
    `create a CA with \`agent-mesh ca init --dir ${dir}\``,
  );
  return TrustBundle.fromPem(pem);
}

/**
 * Loads the identity `name` from `dir`: its certificate, its key and the trust bundle.
 * @throws MeshError NOT_FOUND naming the command that issues the missing identity.
 */
export async function loadIdentity(dir: string, name: string): Promise<IdentityMaterial> {
  unwrap(validateIdentityName(name, { allowControlPlane: true }));
  const hint = `issue it with \`agent-mesh ca issue ${name} --dir ${dir}\``;
  const [certificatePem, privateKeyPem, trustBundlePem] = await Promise.all([
    readText(join(dir, `${name}.crt`), `certificate of "${name}"`, hint),
    readText(join(dir, `${name}.key`), `private key of "${name}"`, hint),
    readText(join(dir, CA_CERT_FILE), 'trust bundle', `create a CA with \`agent-mesh ca init --dir ${dir}\``),
  ]);
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
 * Returns the identity `name` from `dir`, issuing it anew when it is missing, not from this CA, or within
 * `renewWithinMs` of expiring.
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
    if (verified.ok) return material;
  } catch (error) {
    if (!(error instanceof MeshError && error.code === Code.NOT_FOUND)) throw error;
  }
  await issueToDir(dir, name, options);
  return loadIdentity(dir, name);
}
