import { chmod, lstat, mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { Code, MeshError } from '../core/errors.js';
import { socketPath } from './local-address.js';

/** How long the probe of an existing socket file waits for an answer before taking it as in use. */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * The directory a sidecar puts its sockets in when none is given: `$XDG_RUNTIME_DIR/agent-mesh/<name>` (the
 * user's private runtime directory, as systemd sets it up), else `<tmpdir>/agent-mesh-<uid>/<name>`.
 */
export function defaultSocketDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && runtime.startsWith(sep)) return join(runtime, 'agent-mesh', name);
  return join(tmpdir(), `agent-mesh-${process.getuid?.() ?? 'user'}`, name);
}

/**
 * Makes `dir` a directory only this process's user can enter, as the sidecar's sockets need: a missing one is
 * created with mode 0700 (and any missing parents too); an existing one must be a directory owned by this user with
 * no access for group or others. Every directory above it must belong to this user or root and, when others may
 * write to it, carry the sticky bit (like /tmp), so that no other user can move the directory away and put their
 * own in its place.
 * @returns the directory's real path (symbolic links resolved).
 * @throws MeshError INVALID_ARGUMENT for a path that is not a directory, FAILED_PRECONDITION for one that is
 * open to other users or lies under a directory they may change, each naming the fix.
 */
export async function preparePrivateDir(dir: string): Promise<string> {
  const wanted = resolve(dir);
  const created = await mkdir(wanted, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `cannot create the socket directory ${wanted}: ${(error as Error).message}`,
      { cause: error },
    );
  });
  if (created) {
    // The umask may have taken bits away; every directory made here is the user's alone.
    for (let at = wanted; ; at = dirname(at)) {
      await chmod(at, 0o700);
      if (at === created || at === dirname(at)) break;
    }
  }
  const real = await realpath(wanted);
  const info = await stat(real);
  const uid = process.getuid?.();
  if (!info.isDirectory()) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `the socket directory ${real} is not a directory: choose another`,
    );
  }
  if (uid !== undefined && info.uid !== uid) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `the socket directory ${real} belongs to uid ${info.uid}, not to this process's uid ${uid}: another user ` +
        'could reach the sockets in it; run the sidecar as the user who owns it, or choose another directory',
    );
  }
  if ((info.mode & 0o077) !== 0) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `the socket directory ${real} is open to group or others (mode ${octal(info.mode)}): any process that ` +
        `could enter it could act as this agent; run chmod 700 ${real}, or choose another directory`,
    );
  }
  for (let above = dirname(real); ; above = dirname(above)) {
    const parent = await stat(above);
    if (uid !== undefined && parent.uid !== uid && parent.uid !== 0) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `the socket directory ${real} lies under ${above}, which belongs to uid ${parent.uid}: that user could ` +
          'replace it with their own; choose a directory under one that only you or root own',
      );
    }
    if ((parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `the socket directory ${real} lies under ${above}, which others may write to (mode ${octal(parent.mode)}, ` +
          'no sticky bit): they could replace it with their own; choose a directory under one that only you or root ' +
          'may change',
      );
    }
    if (above === dirname(above)) break;
  }
  return real;
}

/**
 * Clears the way for a socket at `path`: nothing there is fine; a socket file that nobody listens on any more (a
 * sidecar that was killed) is removed.
 * @throws MeshError FAILED_PRECONDITION when something listens on it (another sidecar) or the path is not a socket.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!info) return;
  if (!info.isSocket()) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `${path} exists and is not a socket: remove it, or choose another socket directory`,
    );
  }
  const answer = await probe(path);
  if (answer !== 'ECONNREFUSED') {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `another process listens on ${path} (${answer}), perhaps a sidecar for the same agent: stop it first, or ` +
        'choose another socket directory',
    );
  }
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * Removes the socket at `path` when it is still the one with inode `ino` (the one this process bound): a socket
 * another process bound since is left alone.
 */
export async function removeOwnSocket(path: string, ino: number): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isSocket() && info.ino === ino) await unlink(path).catch(() => undefined);
}

/**
 * Makes the socket a server just bound at `path` readable and writable by its user only (0600): the directory
 * already keeps others out, the socket's own mode says so again.
 * @returns the socket's inode, for {@link removeOwnSocket}.
 */
export async function restrictSocket(path: string): Promise<number> {
  await chmod(socketPath(path, 'socket'), 0o600);
  return (await lstat(path)).ino;
}

/** Connects to the socket at `path`: 'ECONNREFUSED' when nothing listens, else what happened ('listening', ...). */
function probe(path: string): Promise<string> {
  return new Promise((resolveProbe) => {
    const socket = connect({ path });
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolveProbe(outcome);
    };
    const timer = setTimeout(() => done(`no answer within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('listening'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
