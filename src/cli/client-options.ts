import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseControlPlaneAddresses } from '../control-plane/addresses.js';
import type { ControlPlaneClient, ControlPlaneClientOptions } from '../control-plane/client.js';
import { parseLabelSelector } from '../core/label-selector.js';
import { Code, MeshError } from '../core/errors.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { nonEmptyArgument } from './run.js';

/** Flags of commands that act as a mesh client: who they are and which control plane they talk to. */
export interface ClientFlags {
  certs: string;
  name: string;
  controlPlane: string;
}

/**
 * Adds `--certs`, `--name` and `--control-plane` (each also from an AGENT_MESH_* environment variable); an empty
 * value, on the command line or in the environment, is a usage error.
 */
export function withClientOptions(command: Command, defaults: { name?: string } = {}): Command {
  return command
    .addOption(
      new Option('--certs <dir>', 'certificate directory with the trust bundle and this identity')
        .default('certs')
        .env('AGENT_MESH_CERTS')
        .argParser(nonEmptyArgument),
    )
    .addOption(
      new Option('--name <identity>', 'the identity to act as (<name>.crt and <name>.key in --certs)')
        .default(defaults.name ?? 'cli')
        .env('AGENT_MESH_NAME')
        .argParser(nonEmptyArgument),
    )
    .addOption(
      new Option(
        '--control-plane <host:port>',
        'the control plane to use; several replicas separated by commas (cp-a:7400,cp-b:7400)',
      )
        .default('127.0.0.1:7400')
        .env('AGENT_MESH_CONTROL_PLANE')
        .argParser(controlPlaneArgument),
    );
}

/** Parses `--control-plane`: one `host:port` or several, comma-separated; a malformed one is a usage error. */
export function controlPlaneArgument(value: string): string {
  nonEmptyArgument(value);
  const parsed = parseControlPlaneAddresses(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error.message);
  return parsed.value.join(',');
}

/** Loads the identity the flags name; a missing one is reported with how to issue it. */
export async function clientIdentity(flags: ClientFlags): Promise<MeshIdentity> {
  // Loaded when a command runs, not when the program is built: `--help` and `version` need neither.
  const [{ loadIdentity }, { MeshIdentity }] = await Promise.all([
    import('../identity/certs-dir.js'),
    import('../transport/mesh-identity.js'),
  ]);
  return new MeshIdentity(await loadIdentity(flags.certs, flags.name));
}

/** A control-plane client; its module (gRPC, the protos) is loaded on first use. */
export async function controlPlaneClient(options: ControlPlaneClientOptions): Promise<ControlPlaneClient> {
  const { ControlPlaneClient } = await import('../control-plane/client.js');
  return new ControlPlaneClient(options);
}

/**
 * Loads the identity the flags name and checks that the control plane answers ({@link checkControlPlane}): what
 * every command that works through the mesh does first.
 */
export async function connectedIdentity(flags: ClientFlags): Promise<MeshIdentity> {
  const identity = await clientIdentity(flags);
  await checkControlPlane(identity, flags.controlPlane);
  return identity;
}

/**
 * Checks that the control plane answers (one policy read, up to 5 s, on any of its replicas), so that a command
 * fails with one clear error instead of waiting for a control plane that is not there.
 */
export async function checkControlPlane(identity: MeshIdentity, address: string): Promise<void> {
  let client: ControlPlaneClient | undefined;
  try {
    // Inside the try: grpc-js refuses some targets (an empty one) when the channel is made, not when it is used.
    client = await controlPlaneClient({ address, identity, timeoutMs: 5_000 });
    await client.getPolicies();
  } catch (error) {
    throw new MeshError(
      error instanceof MeshError && error.code !== Code.UNKNOWN ? error.code : Code.UNAVAILABLE,
      `cannot use the control plane at ${address}: ${(error as Error).message} (set --control-plane or AGENT_MESH_CONTROL_PLANE)`,
      { cause: error },
    );
  } finally {
    client?.close();
  }
}

/**
 * Parses a `--selector` flag (Kubernetes label-selector syntax, e.g. `zone=eu-1,model in (large,xl),!beta`), so that
 * a malformed selector is a usage error naming the problem before anything is sent.
 */
export function labelSelectorArgument(value: string): string {
  const parsed = parseLabelSelector(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error.message);
  return value;
}

/** Runs `use` with a control-plane client for the flags' identity, after checking that the control plane answers. */
export async function withControlPlane<T>(
  flags: ClientFlags,
  use: (client: ControlPlaneClient) => Promise<T>,
): Promise<T> {
  const identity = await connectedIdentity(flags);
  const client = await controlPlaneClient({ address: flags.controlPlane, identity });
  try {
    return await use(client);
  } catch (error) {
    // An administrator's call refused to another identity: say which identity may make it.
    if (
      error instanceof MeshError &&
      error.code === Code.PERMISSION_DENIED &&
      /administrators may/.test(error.message) &&
      flags.name !== 'control-plane'
    ) {
      throw new MeshError(
        error.code,
        `${error.message} (act as one with --name control-plane, where its key is, or one given with control-plane --admin)`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    client.close();
  }
}
