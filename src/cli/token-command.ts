import { Command, Option } from 'commander';
import { loadCaDir } from '../identity/certs-dir.js';
import { durationOption } from './run.js';

/** `agent-mesh token create`: one-time join tokens, signed with the CA key. */
export function createTokenCommand(): Command {
  const token = new Command('token').description(
    'manage join tokens that let a new agent obtain its first certificate',
  );
  token
    .command('create')
    .description('print a one-time join token for an agent (needs the CA key: run it where the CA lives)')
    .requiredOption('--name <agent>', 'the agent the token is for')
    .option(
      '--type <type>',
      'an agent type its certificate will entitle the agent to register as (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .addOption(durationOption('--ttl <duration>', 'how long the token stays usable', 3_600_000))
    .addOption(
      new Option('--certs <dir>', 'certificate directory holding the CA')
        .default('certs')
        .env('AGENT_MESH_CERTS'),
    )
    .action(async (flags: { name: string; type: string[]; ttl: number; certs: string }) => {
      const ca = await loadCaDir(flags.certs);
      const { token: value, claims } = ca.createJoinToken(flags.name, flags.ttl, { types: flags.type });
      console.log(value);
      const types =
        claims.types.length > 0 ? `, entitled to type ${claims.types.join(', ')}` : ', no agent type';
      console.error(
        `token for ${flags.name} in ${claims.trustDomain}${types}, usable once until ${new Date(claims.expiresAt).toISOString()}`,
      );
    });
  return token;
}
