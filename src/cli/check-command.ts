import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { formatApproximateDuration } from '../core/duration.js';
import { controlPlaneClient, withClientOptions, type ClientFlags } from './client-options.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { CLI_VERSION } from './version.js';

/** One line of `agent-mesh check`: what was checked, how it went, and what to do when it did not go well. */
export interface CheckResult {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

/** A root this close to its end is a warning: rotating one takes every agent renewing twice. */
const ROOT_WARNING_MS = 30 * 24 * 3_600_000;
/** A clock this far from the control plane's (beyond what the round trip explains) is a warning. */
const SKEW_WARNING_MS = 1_000;
/** This far, and certificates just issued can look not yet valid or already expired: a failure. */
const SKEW_FAILURE_MS = 60_000;

type CheckFlags = ClientFlags & OutputFlags;

/**
 * `agent-mesh check`: what an operator checks first, each line ok, warn or fail with the fix. Exits 1 when a
 * check fails, 0 otherwise (warnings included).
 */
export function createCheckCommand(): Command {
  return withOutputOptions(
    withClientOptions(new Command('check')).description(
      'check the certificate directory (trust bundle, this identity, key permissions, expiry), the control ' +
        "plane (reachable, version, clock skew, store) and the agents' health; exit 1 when a check fails",
    ),
  ).action(async (flags: CheckFlags) => {
    const results = await runChecks(flags);
    await printResult(flags, results, () => checkText(results));
    if (results.some((result) => result.status === 'fail')) process.exitCode = 1;
  });
}

function checkText(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map(({ check }) => check.length));
  return results
    .flatMap(({ check, status, detail, fix }) => [
      `${status.padEnd(4)}  ${check.padEnd(width)}  ${detail}`,
      ...(fix && status !== 'ok' ? [`${' '.repeat(6 + width)}  fix: ${fix}`] : []),
    ])
    .join('\n');
}

/** Runs every check; a check that cannot run because an earlier one failed is left out, not failed twice. */
export async function runChecks(flags: ClientFlags, now = Date.now()): Promise<CheckResult[]> {
  const [{ loadTrustBundle, loadIdentity }, { MeshIdentity }] = await Promise.all([
    import('../identity/certs-dir.js'),
    import('../transport/mesh-identity.js'),
  ]);
  const results: CheckResult[] = [];
  const certs = flags.certs;

  let bundle: Awaited<ReturnType<typeof loadTrustBundle>>;
  try {
    bundle = await loadTrustBundle(certs);
  } catch (error) {
    results.push({
      check: 'trust bundle',
      status: 'fail',
      detail: (error as Error).message,
      fix: `agent-mesh ca init --certs ${certs} (a new mesh), or copy the mesh's ca.crt into ${certs}`,
    });
    return results;
  }
  const soonest = Math.min(...bundle.roots.map((root) => Date.parse(root.validTo)));
  results.push(
    soonest <= now
      ? {
          check: 'trust bundle',
          status: 'fail',
          detail: `a root expired ${new Date(soonest).toISOString()}`,
          fix: 'agent-mesh ca rotate prepare (docs/security.md: rotating the root)',
        }
      : {
          check: 'trust bundle',
          status: soonest - now < ROOT_WARNING_MS ? 'warn' : 'ok',
          detail: `${bundle.roots.length} root(s) for ${[...bundle.trustDomains].join(', ')}, valid for ${formatApproximateDuration(soonest - now)}`,
          fix: 'agent-mesh ca rotate prepare (docs/security.md: rotating the root)',
        },
  );

  let material: Awaited<ReturnType<typeof loadIdentity>>;
  try {
    material = await loadIdentity(certs, flags.name);
  } catch (error) {
    results.push({
      check: 'identity',
      status: 'fail',
      detail: (error as Error).message,
      fix: `agent-mesh ca issue ${flags.name} --certs ${certs}, or --name another identity`,
    });
    return results;
  }
  const reissue = `agent-mesh ca issue ${flags.name} --certs ${certs} --force`;
  const verified = bundle.verify(material.certificatePem);
  if (!verified.ok) {
    results.push({ check: 'identity', status: 'fail', detail: verified.error.message, fix: reissue });
    return results;
  }
  const { x509 } = verified.value.facts;
  const notBefore = Date.parse(x509.validFrom);
  const notAfter = Date.parse(x509.validTo);
  const left = notAfter - now;
  results.push({
    check: 'identity',
    status: left < (notAfter - notBefore) / 5 ? 'warn' : 'ok',
    detail: `${verified.value.spiffeId.uri}, valid for ${formatApproximateDuration(Math.max(0, left))}`,
    fix: reissue,
  });
  results.push(await keyPermissions(join(certs, `${flags.name}.key`)));

  const started = Date.now();
  let info;
  let agents;
  const identity = new MeshIdentity(material);
  const client = await controlPlaneClient({ address: flags.controlPlane, identity, timeoutMs: 5_000 });
  try {
    info = await client.getInfo();
    const answered = Date.now();
    // The clock is read on a second call: the first one's round trip includes the connection's TLS handshake,
    // which would widen the margin and bias the skew by half of it.
    const sent = Date.now();
    const again = await client.getInfo();
    const received = Date.now();
    agents = (await client.discover({ includeUnhealthy: true })).agents;
    results.push({
      check: 'control plane',
      status: 'ok',
      detail: `${flags.controlPlane} answered in ${answered - started} ms (${info.agents} agents registered)`,
    });
    results.push({
      check: 'version',
      status: info.version === CLI_VERSION ? 'ok' : 'warn',
      detail: `control plane ${info.version}, this CLI ${CLI_VERSION}`,
      fix: 'run the same agent-mesh version on both (npm install agent-mesh@<version>)',
    });
    results.push(clockSkew(again.now, sent, received));
    results.push({
      check: 'store',
      status: info.store.ok ? 'ok' : 'fail',
      detail: info.store.ok
        ? `${info.store.kind} answers${info.store.durable ? '' : ' (not durable: the registry starts empty after a restart; etcd keeps it)'}`
        : `${info.store.kind || 'the store'} does not answer: ${info.store.error ?? 'unknown'}`,
      fix: 'check the etcd cluster (etcdctl endpoint health) and the control plane --etcd flag',
    });
  } catch (error) {
    const message = (error as Error).message;
    // A TLS failure means something answered: the wrong mesh's control plane, or not a control plane at all.
    const untrusted = /certificate|self.signed|unable to verify|SPIFFE/i.test(message);
    results.push({
      check: 'control plane',
      status: 'fail',
      detail: `${flags.controlPlane}: ${message}`,
      fix: untrusted
        ? `the server there does not present a certificate of this trust bundle: use the certificate directory of its mesh (--certs), or copy that mesh's ca.crt into ${certs} and reissue ${flags.name}`
        : 'start one (npm start, or agent-mesh control-plane), or point --control-plane / AGENT_MESH_CONTROL_PLANE at it',
    });
    return results;
  } finally {
    client.close();
  }

  const unhealthy = agents.filter((agent) => agent.health !== 'healthy');
  results.push({
    check: 'agents',
    status: unhealthy.length > 0 ? 'warn' : 'ok',
    detail:
      unhealthy.length > 0
        ? `${unhealthy.length} of ${agents.length} not healthy: ${unhealthy
            .slice(0, 5)
            .map((agent) => `${agent.id} (${agent.health})`)
            .join(', ')}${unhealthy.length > 5 ? ', ...' : ''}`
        : `${agents.length} registered, all healthy`,
    fix: "agent-mesh agents show <id>, and the agent's own logs",
  });
  return results;
}

async function keyPermissions(path: string): Promise<CheckResult> {
  const mode = (await stat(path)).mode & 0o777;
  return mode & 0o077
    ? {
        check: 'private key',
        status: 'fail',
        detail: `${path} has mode ${mode.toString(8).padStart(4, '0')}: others can read it`,
        fix: `chmod 600 ${path}`,
      }
    : { check: 'private key', status: 'ok', detail: `${path} is 0600` };
}

/**
 * The control plane's clock against ours: its answer was made between `sent` and `received`, so the skew is
 * known to within half the round trip, which is not counted against it.
 */
export function clockSkew(theirs: number, sent: number, received: number): CheckResult {
  const uncertainty = (received - sent) / 2;
  const skew = theirs - (sent + received) / 2;
  const beyond = Math.max(0, Math.abs(skew) - uncertainty);
  const detail = `${Math.round(skew)} ms (± ${Math.round(uncertainty)} ms)`;
  const fix = 'synchronise the clocks (NTP: timedatectl set-ntp true, or chrony)';
  if (beyond > SKEW_FAILURE_MS) return { check: 'clock skew', status: 'fail', detail, fix };
  return { check: 'clock skew', status: beyond > SKEW_WARNING_MS ? 'warn' : 'ok', detail, fix };
}
