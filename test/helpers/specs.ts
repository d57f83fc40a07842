import type { Skill } from '../../src/core/agent-record.js';

/** A skill whose two schemas take about `bytes` of a spec. */
export function heavySkill(id: string, bytes: number): Skill {
  const schema = JSON.stringify({ type: 'object', description: 'x'.repeat(Math.max(0, bytes / 2 - 40)) });
  return {
    ...{ id, name: id, description: '', tags: [], examples: [] },
    ...{ inputSchema: schema, outputSchema: schema, inputContentTypes: [], outputContentTypes: [] },
  };
}

/** About the largest skills a spec may carry within its 128 KiB limit: 7 skills of 16 KiB schemas (~115 KiB). */
export function largestSkills(): Skill[] {
  return Array.from({ length: 7 }, (_, i) => heavySkill(`skill-${i}`, 16 * 1024));
}
