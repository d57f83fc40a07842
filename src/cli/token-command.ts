import { Command, Option } from 'commander';
import { loadCaDir } from '../identity/certs-dir.js';
import { durationArgument } from './run.js';

/** `agent-mesh token create`: one-time join tokens, signed with the CA key. */
export function createTokenCommand(): Command {
  const token = new Command('token').description(
    'manage join tokens that let a new agent obtain its first certificate',
  );
  token
    .command('create')
    .description('print a one-time join token for an agent (needs the CA key: run it where the CA lives)')
    .requiredOption('--name <agent>', 'the agent the token is for')
    .option('--ttl <duration>', 'how long the token stays usable', durationArgument, 3_600_000)
    .addOption(
      new Option('--certs <dir>', 'certificate directory holding the CA')
        .default('certs')
        .env('AGENT_MESH_CERTS'),
    )
    .action(async (flags: { name: string; ttl: number; certs: string }) => {
      const ca = await loadCaDir(flags.certs);
      const { token: value, claims } = ca.createJoinToken(flags.name, flags.ttl);
      console.log(value);
      console.error(
        `token for ${flags.name} in ${claims.trustDomain}, usable once until ${new Date(claims.expiresAt).toISOString()}`,
      );
    });
  return token;
}
