/**
 * The certificate authority script: `npm run ca -- <command>`, the same commands as `agent-mesh ca <command>`:
 *   init [--certs certs] [--trust-domain agentmesh.local] [--ttl 87600h] [--force]
 *   issue <name> [--certs certs] [--ttl 24h] [--dns NAME]... [--ip ADDR]...
 *   inspect <file> [--json]
 *   verify <file> [--certs certs]
 */
import { createCaCommand } from '../src/cli/ca-command.js';
import { runCli } from '../src/cli/run.js';

await runCli(createCaCommand('agent-mesh ca'));
