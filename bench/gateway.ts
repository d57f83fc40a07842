/**
 * The gateway: an MCP `tools/call` through `agent-mesh gateway` (Streamable HTTP, a bearer token, the MCP SDK's
 * client) against the same skill called with `callTool` from a mesh client (the baseline), in one run. The skill
 * (`echo`, a ~1 KB JSON answer) runs on an agent in a process of its own (bench/gateway-agent.ts), the gateway in
 * another (the CLI, logging at warn); the clients in this process, with the idle control plane. Latency p50/p99
 * at a fixed rate of 200 calls/s each (calls of the two kinds alternate), in 10 rounds of 400 calls (the medians
 * over the rounds), and the p99 the gateway adds; then throughput, closed loop, 8 calls in flight each, in
 * alternating rounds, with the CPU µs per call of the gateway's process.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { EndpointCache } from '../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../src/data-plane/mesh-client.js';
import { GatewayTokens } from '../src/edge/gateway-tokens.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { alternating, fixedRate } from './baseline.js';
import { spawnBenchProcess, startBenchMesh } from './setup.js';
import { moduleUrl } from '../test/helpers/module-url.js';

type Figures = Record<string, number>;
const INPUT = { text: 'x'.repeat(1_000) };

export async function benchGateway(): Promise<Figures> {
  const bench = await startBenchMesh();
  const { certsDir, controlPlane } = bench;
  await ensureIdentity(certsDir, 'tools-1', { types: ['tools'] });
  await ensureIdentity(certsDir, 'gateway');
  const callerIdentity = new MeshIdentity(await ensureIdentity(certsDir, 'caller'));
  const { token } = await new GatewayTokens(certsDir).create('caller');
  const agent = spawnBenchProcess(
    moduleUrl('./gateway-agent.ts', import.meta.url),
    [certsDir, controlPlane.address],
    /ready/,
  );
  const gateway = spawnBenchProcess(
    moduleUrl('../src/cli/main.ts', import.meta.url),
    [
      'gateway',
      ...['--certs', certsDir, '--control-plane', controlPlane.address],
      ...['--listen', '127.0.0.1:0', '--log-level', 'warn'],
    ],
    /serving (http:\/\/\S+)\/mcp/,
  );
  await agent.ready;
  const url = (await gateway.ready)[1]!;

  const cache = new EndpointCache({
    client: new ControlPlaneClient({ address: controlPlane.address, identity: callerIdentity }),
    logger: silentLogger(),
  });
  await cache.start();
  const mesh = new MeshClient({ identity: callerIdentity, cache, logger: silentLogger() });
  const mcp = new Client({ name: 'bench', version: '1' });
  await mcp.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  const direct = () => mesh.callTool('echo', INPUT);
  const viaGateway = async () => {
    const result = await mcp.callTool({ name: 'echo', arguments: INPUT });
    if (result.isError) throw new Error(JSON.stringify(result.content));
  };
  try {
    // The gateway learns of the agent from its own watch: the tool is there once a call succeeds.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await viaGateway();
        break;
      } catch (error) {
        if (attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    for (let i = 0; i < 500; i += 1) for (const call of [direct, viaGateway]) await call();
    const latency = await fixedRate(direct, viaGateway, { ratePerSecond: 200, rounds: 10, roundCalls: 400 });
    const throughput = await alternating(
      {
        callTool: { call: direct, servers: [agent] },
        gateway: { call: viaGateway, servers: [agent, gateway] },
      },
      { concurrency: 8 },
    );
    return {
      callToolP50Ms: latency.aP50,
      gatewayP50Ms: latency.bP50,
      p50AddedMs: latency.bP50 - latency.aP50,
      callToolP99Ms: latency.aP99,
      gatewayP99Ms: latency.bP99,
      p99AddedMs: latency.p99Added,
      p99AddedMinMs: latency.p99AddedMin,
      p99AddedMaxMs: latency.p99AddedMax,
      callToolCallsPerSecond: throughput.callTool.callsPerSecond,
      gatewayCallsPerSecond: throughput.gateway.callsPerSecond,
      throughputRatio: throughput.gateway.callsPerSecond / throughput.callTool.callsPerSecond,
      gatewayServersCpuUsPerCall: throughput.gateway.serverCpuUsPerCall,
      callToolServerCpuUsPerCall: throughput.callTool.serverCpuUsPerCall,
    };
  } finally {
    await mcp.close();
    mesh.close();
    cache.close();
    await Promise.all([agent.stop(), gateway.stop()]);
    await bench.close();
  }
}
