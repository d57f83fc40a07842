import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureCaDir, ensureIdentity, issueToDir, loadIdentity } from '../../src/identity/certs-dir.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('certificate directory', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeEach(async () => {
    temp = await makeTempDir();
  });

  afterEach(async () => {
    await temp.remove();
  });

  it('creates a CA and identities on first use, and reuses them afterwards', async () => {
    const dir = join(temp.dir, 'certs');
    const ca = await ensureCaDir(dir, 'dev.local');
    const first = await ensureIdentity(dir, 'echo-1');
    expect(new MeshIdentity(first).spiffeId.uri).toBe('spiffe://dev.local/agent/echo-1');
    expect((await ensureCaDir(dir, 'ignored.local')).certificatePem).toBe(ca.certificatePem);
    expect((await ensureIdentity(dir, 'echo-1')).certificatePem).toBe(first.certificatePem);
    expect((await stat(join(dir, 'echo-1.key'))).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'ca.key', 'echo-1.crt', 'echo-1.key']);
  });

  it('reissues an identity that is about to expire', async () => {
    await ensureCaDir(temp.dir, 'dev.local');
    const short = await issueToDir(temp.dir, 'echo-1', { ttlMs: 60_000 });
    const renewed = await ensureIdentity(temp.dir, 'echo-1', { renewWithinMs: 3_600_000 });
    expect(renewed.certificatePem).not.toBe(short.certificatePem);
  });

  it('reissues an identity that another CA signed', async () => {
    await ensureCaDir(temp.dir, 'dev.local');
    const stale = await ensureIdentity(temp.dir, 'echo-1');
    await writeFile(join(temp.dir, 'ca.crt'), '');
    await writeFile(join(temp.dir, 'ca.key'), '');
    const other = join(temp.dir, 'other');
    await ensureCaDir(other, 'dev.local');
    await ensureIdentity(other, 'echo-1');
    expect((await loadIdentity(other, 'echo-1')).certificatePem).not.toBe(stale.certificatePem);
  });

  it('names the command that issues a missing identity', async () => {
    await ensureCaDir(temp.dir, 'dev.local');
    await expect(loadIdentity(temp.dir, 'ghost')).rejects.toThrow(
      /certificate of "ghost" not found .*agent-mesh ca issue ghost --type <agent type> --certs/,
    );
  });

  it('writes nothing when the directory cannot take the files', async () => {
    await expect(issueToDir(join(temp.dir, 'missing'), 'x')).rejects.toThrow(/CA certificate not found/);
    expect(await readdir(temp.dir)).toEqual([]);
  });
});
