import { chmod, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, type MeshError } from '../../src/core/errors.js';
import { localAddress } from '../../src/sidecar/local-address.js';
import { defaultSocketDir, preparePrivateDir, removeStaleSocket } from '../../src/sidecar/private-socket.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe("the sidecar's private socket directory", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    temp = await makeTempDir('agent-mesh-private-');
  });

  afterAll(async () => {
    await temp?.remove();
  });

  const refusal = (work: Promise<unknown>) => work.then(() => undefined).catch((error: unknown) => error);

  it('defaults to $XDG_RUNTIME_DIR/agent-mesh/<name>, else to agent-mesh-<uid>/<name> in the temporary directory', () => {
    expect(defaultSocketDir('billing-1', { XDG_RUNTIME_DIR: '/run/user/1000' })).toBe(
      '/run/user/1000/agent-mesh/billing-1',
    );
    expect(defaultSocketDir('billing-1', {})).toMatch(
      new RegExp(`/agent-mesh-${process.getuid!()}/billing-1$`),
    );
  });

  it('creates a missing directory and its missing parents with mode 0700 under the usual umask', async () => {
    const previous = process.umask(0o022);
    try {
      const dir = join(temp.dir, 'a', 'b');
      expect(await preparePrivateDir(dir)).toBe(dir);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(temp.dir, 'a'))).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(previous);
    }
  });

  it('resolves a symbolic link to the real directory, and checks that one', async () => {
    const real = join(temp.dir, 'real');
    await mkdir(real, { mode: 0o700 });
    await symlink(real, join(temp.dir, 'link'));
    expect(await preparePrivateDir(join(temp.dir, 'link'))).toBe(real);
  });

  it('refuses a directory under one that others may write to without the sticky bit', async () => {
    const shared = join(temp.dir, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777);
    const failure = (await refusal(preparePrivateDir(join(shared, 'mine')))) as MeshError;
    expect(failure.code).toBe(Code.FAILED_PRECONDITION);
    expect(failure.message).toContain(
      `lies under ${shared}, which others may write to (mode 0777, no sticky bit)`,
    );
    // With the sticky bit (as /tmp has), nobody but the owner may move the directory: accepted.
    await chmod(shared, 0o1777);
    expect(await preparePrivateDir(join(shared, 'mine'))).toBe(join(shared, 'mine'));
  });

  it('refuses a path that is a file', async () => {
    const file = join(temp.dir, 'file');
    await writeFile(file, 'x');
    const failure = (await refusal(preparePrivateDir(file))) as MeshError;
    expect(failure.code).toBe(Code.FAILED_PRECONDITION);
    expect(failure.message).toContain(`cannot create the socket directory ${file}`);
  });

  it('leaves nothing to do where no socket is, and refuses a file that is not a socket', async () => {
    await removeStaleSocket(join(temp.dir, 'none.sock'));
    const file = join(temp.dir, 'plain.sock');
    await writeFile(file, '');
    const failure = (await refusal(removeStaleSocket(file))) as MeshError;
    expect(failure.code).toBe(Code.FAILED_PRECONDITION);
    expect(failure.message).toContain(`${file} exists and is not a socket`);
  });

  it('refuses a socket that something listens on, and leaves it in place', async () => {
    const path = join(temp.dir, 'live.sock');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const failure = (await refusal(removeStaleSocket(path))) as MeshError;
      expect(failure.code).toBe(Code.FAILED_PRECONDITION);
      expect(failure.message).toContain(`another process listens on ${path} (listening)`);
      expect((await stat(path)).isSocket()).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reads unix:/absolute/path and loopback host:port, refusing a relative or overlong socket path', () => {
    expect(localAddress('unix:/run/app.sock', 'app address')).toEqual({
      kind: 'unix',
      path: '/run/app.sock',
      address: 'unix:/run/app.sock',
    });
    expect(localAddress('127.0.0.1:50051', 'app address')).toEqual({
      kind: 'tcp',
      address: '127.0.0.1:50051',
    });
    expect(() => localAddress('unix:app.sock', 'app address')).toThrow(/unix:\/absolute\/path/);
    expect(() => localAddress(`unix:/${'x'.repeat(120)}`, 'app address')).toThrow(
      /more than a Unix socket path/,
    );
    expect(() => localAddress('10.0.0.1:50051', 'app address')).toThrow(/not on loopback/);
  });
});
