import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEntryPoint, spawnEntryPoint, spawnScript } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npm start` without npm: `src/cli/main.ts up` under tsx, in a process group of its own, which receives signals as
 * a whole, the way a terminal delivers Ctrl-C. It runs as `node --import tsx` rather than through the `tsx` command,
 * whose wrapper process SIGKILLs its child when the child does not confirm a signal within 30 ms (which a busy
 * machine sometimes misses): that is tsx's behaviour, not the program's.
 */
interface LocalMesh {
  child: ChildProcess;
  stdout: string;
  /** The JSON log lines printed so far. */
  logs: Array<Record<string, unknown>>;
  exitCode: number | null | undefined;
  /** The signal that ended it, when one did. */
  exitSignal: NodeJS.Signals | null;
}

function startLocalMesh(args: string[], options: { viaNpm?: boolean } = {}): LocalMesh {
  // Flags alone decide: a developer's own AGENT_MESH_* settings must not leak into the test.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('AGENT_MESH_')),
  );
  const [command, commandArgs] = options.viaNpm
    ? ['npm', ['start', '--silent', '--', ...args]]
    : [process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'up', ...args]];
  const child = spawn(command, commandArgs, {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, AGENT_MESH_LOG_LEVEL: 'info' },
  });
  const mesh: LocalMesh = { child, stdout: '', logs: [], exitCode: undefined, exitSignal: null };
  child.stdout!.on('data', (chunk: Buffer) => (mesh.stdout += chunk.toString()));
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        mesh.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.once('exit', (code, signal) => {
    mesh.exitSignal = signal;
    mesh.exitCode = code;
  });
  return mesh;
}

/** Sends `signal` to every process of the group `pgid`, if any is left. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Whether any process of the group `pgid` is left (zombies included, until they are reaped). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('`agent-mesh up` (what `npm start` runs)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let certs: string;
  let mesh: LocalMesh;
  let controlPlane: string;
  let groupGone = false;
  const logged = (match: Record<string, unknown>) =>
    mesh.logs.some((line) => Object.entries(match).every(([key, value]) => line[key] === value));
  const waitForLog = (match: Record<string, unknown>, timeoutMs = 30_000) =>
    until(() => logged(match), `a log line with ${JSON.stringify(match)}`, timeoutMs);

  beforeAll(async () => {
    temp = await makeTempDir();
    certs = `${temp.dir}/certs`;
    mesh = startLocalMesh([
      ...['--certs', certs, '--listen', '127.0.0.1:0', '--interval', '50ms'],
      ...[
        '--http-listen',
        '127.0.0.1:0',
        '--metrics-listen',
        '127.0.0.1:0',
        '--gateway-listen',
        '127.0.0.1:0',
      ],
    ]);
    // The first start creates the CA and every identity it runs.
    await until(
      () => /local mesh running/.test(mesh.stdout) || mesh.exitCode !== undefined,
      'the banner',
      90_000,
    );
    controlPlane = /control plane +(127\.0\.0\.1:\d+)/.exec(mesh.stdout)?.[1] ?? '';
  }, 120_000);

  afterAll(async () => {
    // Only while the group is known to be ours: once it is gone, its id may be reused by another process group.
    if (mesh?.child.pid && !groupGone) signalGroup(mesh.child.pid, 'SIGKILL');
    await temp?.remove();
  });

  it('prints a banner with the bound control plane, the example agents and commands to try', () => {
    expect(controlPlane).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(mesh.stdout).toContain(`AGENT_MESH_CONTROL_PLANE=${controlPlane}`);
    for (const agent of ['summarizer-1', 'summarizer-2', 'auditor-1', 'planner-1']) {
      expect(mesh.stdout).toMatch(new RegExp(`${agent} +127\\.0\\.0\\.1:\\d+`));
    }
    expect(mesh.stdout).toContain("npx agent-mesh subscribe 'tasks.>'");
  });

  it("offers the example agents' skills to MCP clients at its gateway, with a token for the cli identity", async () => {
    const gateway = /MCP (http:\/\/127\.0\.0\.1:\d+)\/mcp, A2A /.exec(mesh.stdout)?.[1];
    expect(gateway).toBeTruthy();
    const created = await runEntryPoint('agent-mesh', [
      'gateway',
      'token',
      'create',
      'cli',
      '--certs',
      certs,
    ]);
    expect(created.code).toBe(0);
    const client = new Client({ name: 'up-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gateway}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${created.stdout.trim()}` } },
      }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(['audit-trail', 'summarize', 'summarize-stream']);
      const answer = await client.callTool({
        name: 'summarize',
        arguments: { title: 'hi', text: 'Agents talk. Meshes listen.' },
      });
      expect(answer.structuredContent).toMatchObject({ title: 'hi', summary: 'Agents talk.' });
    } finally {
      await client.close();
    }
  });

  it('runs the examples: tasks balanced over both summarizers, streamed and refused ones, all audited', async () => {
    await waitForLog({ msg: 'task completed', summarizer: 'summarizer-1' });
    await waitForLog({ msg: 'task completed', summarizer: 'summarizer-2' });
    await waitForLog({ msg: 'task completed', streamed: true });
    // Every tenth task is a blank page, which the summarizer refuses.
    await waitForLog({ msg: 'task failed', task: 'task-10', code: 'INVALID_ARGUMENT' });
    await waitForLog({ msg: 'audited', agent: 'auditor-1', topic: 'tasks.completed', from: 'planner-1' });
    await waitForLog({ msg: 'audited', agent: 'auditor-1', topic: 'tasks.failed', task: 'task-10' });
  });

  it('serves the dashboard and /metrics at the addresses of the banner, reflecting the example traffic', async () => {
    const dashboard = /dashboard +(http:\/\/127\.0\.0\.1:\d+)\//.exec(mesh.stdout)?.[1];
    const agentMetrics = /(http:\/\/127\.0\.0\.1:\d+)\/metrics \(agents\)/.exec(mesh.stdout)?.[1];
    expect(dashboard).toBeDefined();
    expect(agentMetrics).toBeDefined();
    const page = await fetch(`${dashboard}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    await waitForLog({ msg: 'task completed', summarizer: 'summarizer-2' });
    const agents = await (await fetch(`${agentMetrics}/metrics`)).text();
    expect(agents).toMatch(
      /^agentmesh_client_calls_total\{caller_type="planner",callee_type="summarizer",method="summarize",code="OK"\} [1-9]/m,
    );
    expect(agents).toMatch(
      /^agentmesh_events_handled_total\{subscriber_type="auditor",outcome="ack"\} [1-9]/m,
    );
    const controlPlaneMetrics = await (await fetch(`${dashboard}/metrics`)).text();
    expect(controlPlaneMetrics).toMatch(/^agentmesh_/m);
    // Heartbeats carry the planner's calls to the control plane: the dashboard's topology shows them.
    await until(
      async () => {
        const topology = (await (await fetch(`${dashboard}/api/topology`)).json()) as {
          typeEdges: { fromType: string; toType: string; calls: number }[];
        };
        return topology.typeEdges.some(
          (e) => e.fromType === 'planner' && e.toType === 'summarizer' && e.calls > 0,
        );
      },
      'planner -> summarizer in the topology',
      30_000,
    );
  });

  it("serves the banner's `agent-mesh subscribe 'tasks.>'` with the identity it issued", async () => {
    const subscriber = spawnEntryPoint(['subscribe', 'tasks.>'], {
      AGENT_MESH_CERTS: certs,
      AGENT_MESH_CONTROL_PLANE: controlPlane,
    });
    try {
      const line = await subscriber.waitFor(/^\{.*"topic":"tasks.completed".*\}$/m);
      expect(JSON.parse(line[0])).toMatchObject({ publisher: 'spiffe://agentmesh.local/agent/planner-1' });
    } finally {
      expect(await subscriber.stop('SIGINT')).toBe(0);
    }
  });

  it('lets an example run on its own as its header says, joining and leaving the running mesh', async () => {
    const issued = await runEntryPoint('ca-script', [
      'issue',
      'summarizer-3',
      '--type',
      'summarizer',
      '--dir',
      certs,
    ]);
    expect(issued.code).toBe(0);
    const summarizer = spawnScript(`${root}examples/summarizer-agent.ts`, [], {
      AGENT_MESH_CERTS: certs,
      AGENT_MESH_CONTROL_PLANE: controlPlane,
      AGENT_MESH_LOG_LEVEL: 'info',
      AGENT_MESH_METRICS_LISTEN: '127.0.0.1:0',
    });
    try {
      const [, metricsUrl] = await summarizer.waitFor(
        /summarizer-3 is running, metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/,
      );
      const metrics = await fetch(metricsUrl!);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^# TYPE agentmesh_/m);
      await waitForLog({ msg: 'agent registered', agent: 'summarizer-3', type: 'summarizer' });
    } finally {
      expect(await summarizer.stop('SIGINT')).toBe(0);
    }
    await waitForLog({ msg: 'agent deregistered', agent: 'summarizer-3' });
  });

  it('drains every agent, stops the control plane and exits 0 on Ctrl-C, leaving no process behind', async () => {
    const pgid = mesh.child.pid!;
    process.kill(-pgid, 'SIGINT'); // to the whole group, as a terminal does
    await waitForLog({ msg: 'stopping: draining the agents, then the control plane' });
    // npm relays a terminal's Ctrl-C to its child, so the program may get it twice: the second changes nothing.
    signalGroup(pgid, 'SIGINT');
    await until(() => mesh.exitCode !== undefined, 'the local mesh exits', 30_000);
    expect(
      mesh.exitCode,
      `ended by ${mesh.exitSignal}; last log lines: ${JSON.stringify(mesh.logs.slice(-8))}`,
    ).toBe(0);
    for (const agent of ['planner-1', 'auditor-1', 'summarizer-2', 'summarizer-1']) {
      expect(logged({ msg: 'agent drained and stopped', agent })).toBe(true);
    }
    expect(logged({ msg: 'local mesh stopped' })).toBe(true);
    await until(() => !groupAlive(pgid), 'no process of the group is left');
    groupGone = true;
  });
});

describe('`npm start`, as the README says to run it', () => {
  it('exits 0 when a Ctrl-C reaches npm and the mesh together, as a terminal sends it', async () => {
    const temp = await makeTempDir();
    // npm runs the script with `sh -c`; the script execs node, so no shell is left between npm and the mesh to
    // die of the Ctrl-C (which made npm kill itself with SIGINT and exit 130).
    const mesh = startLocalMesh(
      [
        ...['--certs', `${temp.dir}/certs`, '--listen', '127.0.0.1:0', '--interval', '50ms'],
        ...[
          '--http-listen',
          '127.0.0.1:0',
          '--metrics-listen',
          '127.0.0.1:0',
          '--gateway-listen',
          '127.0.0.1:0',
        ],
      ],
      { viaNpm: true },
    );
    const pgid = mesh.child.pid!;
    try {
      await until(
        () => /local mesh running/.test(mesh.stdout) || mesh.exitCode !== undefined,
        'the banner',
        90_000,
      );
      signalGroup(pgid, 'SIGINT');
      await until(() => mesh.exitCode !== undefined, 'npm start exits', 30_000);
      expect(mesh.exitCode, `ended by ${mesh.exitSignal}`).toBe(0);
      await until(() => !groupAlive(pgid), 'no process of the group is left');
    } finally {
      if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
      await temp.remove();
    }
  }, 150_000);
});
