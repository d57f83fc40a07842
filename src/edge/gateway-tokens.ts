import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Code, MeshError, describeFsError, quote } from '../core/errors.js';
import { writeFilesAtomically } from '../identity/certs-dir.js';

/** The file of the gateway's bearer tokens, in the certificate directory (mode 0600). */
export const GATEWAY_TOKENS_FILE = 'gateway-tokens.json';

/** One bearer token as stored: never the secret itself, only its SHA-256. */
export interface StoredGatewayToken {
  /** Public part of the token (in logs and in `token list`), 12 hex characters. */
  id: string;
  /** The mesh identity the token's bearer acts as: `<identity>.crt` and `.key` in the certificate directory. */
  identity: string;
  /** SHA-256 of the secret part, hex. */
  sha256: string;
  createdAt: number;
  /** 0: no expiry. */
  expiresAt: number;
  /** What the administrator wrote about it (who has it). */
  note: string;
}

const TOKEN = /^amg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const IDENTITY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The gateway's bearer tokens: an administrator creates one per outside client, mapped to a mesh identity (see
 * `agent-mesh gateway token create`); the gateway calls into the mesh as that identity, so its policies and rate
 * limits apply to that client. The file is read again whenever it changes, so a revocation applies to the next
 * request without a restart.
 */
export class GatewayTokens {
  private tokens = new Map<string, StoredGatewayToken>();
  private loadedVersion = '';

  constructor(
    /** The certificate directory holding {@link GATEWAY_TOKENS_FILE}. */
    readonly dir: string,
    private readonly clock: () => number = Date.now,
  ) {}

  get path(): string {
    return join(this.dir, GATEWAY_TOKENS_FILE);
  }

  /** The tokens, secrets excluded. */
  async list(): Promise<StoredGatewayToken[]> {
    await this.reload();
    return [...this.tokens.values()];
  }

  /**
   * Creates a token for `identity` and stores its hash; the token itself is returned once and kept nowhere.
   * @throws MeshError INVALID_ARGUMENT for an invalid identity name or TTL.
   */
  async create(
    identity: string,
    options: { ttlMs?: number; note?: string } = {},
  ): Promise<{
    token: string;
    stored: StoredGatewayToken;
  }> {
    if (!IDENTITY.test(identity)) {
      throw new MeshError(Code.INVALID_ARGUMENT, `${quote(identity)} is not an identity name`);
    }
    const ttlMs = options.ttlMs ?? 0;
    if (!Number.isFinite(ttlMs) || ttlMs < 0)
      throw new MeshError(Code.INVALID_ARGUMENT, 'the TTL must be positive');
    await this.reload();
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.clock();
    const stored: StoredGatewayToken = {
      id,
      identity,
      sha256: sha256(secret),
      createdAt: now,
      expiresAt: ttlMs > 0 ? now + ttlMs : 0,
      note: (options.note ?? '').slice(0, 200),
    };
    this.tokens.set(id, stored);
    await this.save();
    return { token: `amg_${id}_${secret}`, stored };
  }

  /** Removes a token; false when there was none with that id. */
  async revoke(id: string): Promise<boolean> {
    await this.reload();
    if (!this.tokens.delete(id)) return false;
    await this.save();
    return true;
  }

  /**
   * The identity a bearer token acts as, or why it is refused (malformed, unknown, revoked, expired). The secret
   * is compared in constant time.
   */
  async verify(token: string): Promise<{ ok: true; token: StoredGatewayToken } | { ok: false; why: string }> {
    const match = TOKEN.exec(token);
    if (!match) return { ok: false, why: 'not a gateway token (amg_<id>_<secret>)' };
    await this.reload();
    const stored = this.tokens.get(match[1]!);
    if (!stored) return { ok: false, why: `token ${match[1]} is unknown or revoked` };
    const expected = Buffer.from(stored.sha256, 'hex');
    const given = Buffer.from(sha256(match[2]!), 'hex');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { ok: false, why: `token ${match[1]} does not match` };
    }
    if (stored.expiresAt > 0 && stored.expiresAt <= this.clock()) {
      return { ok: false, why: `token ${match[1]} expired at ${new Date(stored.expiresAt).toISOString()}` };
    }
    return { ok: true, token: stored };
  }

  /** Reads the file again when it changed (or is gone: no tokens). */
  private async reload(): Promise<void> {
    let version: string;
    try {
      const info = await stat(this.path);
      version = `${info.mtimeMs}:${info.size}:${info.ino}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new MeshError(Code.UNAVAILABLE, `cannot read ${this.path}: ${describeFsError(error)}`);
      }
      this.tokens = new Map();
      this.loadedVersion = '';
      return;
    }
    if (version === this.loadedVersion) return;
    let parsed: { tokens?: StoredGatewayToken[] };
    try {
      parsed = JSON.parse(await readFile(this.path, 'utf8')) as { tokens?: StoredGatewayToken[] };
    } catch (error) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `${this.path} is not a gateway token file (${(error as Error).message}): fix it or remove it`,
      );
    }
    this.tokens = new Map((parsed.tokens ?? []).map((token) => [token.id, token]));
    this.loadedVersion = version;
  }

  private async save(): Promise<void> {
    const contents = `${JSON.stringify({ tokens: [...this.tokens.values()] }, null, 2)}\n`;
    await writeFilesAtomically([{ path: this.path, contents, mode: 0o600 }]);
    this.loadedVersion = ''; // read back on the next use: the file's new version
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
