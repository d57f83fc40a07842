import { Code, fail, ok, type Result, quote } from './errors.js';
import { validateAgentType } from './agent-types.js';
import { validateIdentityName } from './spiffe-id.js';
import { validateSubscriptions, type Subscription } from './subscription.js';
import { validLabelKey, validLabelValue } from './label-selector.js';

/** Routable, not routable because checks fail, or leaving on its own terms. */
export type Health = 'healthy' | 'unhealthy' | 'draining';

/** What an agent declares at registration (see `AgentSpec` in proto/agentmesh/v1/types.proto). */
export interface AgentSpec {
  type: string;
  name: string;
  capabilities: string[];
  labels: Record<string, string>;
  endpoint: string;
  weight: number;
  maxConcurrency: number;
  description: string;
  /** Event subscriptions; publishers find them here and deliver to the agent directly. */
  subscriptions: Subscription[];
  /** The tools the agent offers (its agent card's skills). */
  skills: Skill[];
  /** The agent-mesh version the agent runs, set by the runtime; informational. Absent: unknown. */
  meshVersion?: string;
}

/** One skill (tool) of an agent: its id is also the method `callTool` invokes. */
export interface Skill {
  id: string;
  name: string;
  description: string;
  tags: string[];
  /** JSON Schema of the input and output, as JSON text; empty when not described. */
  inputSchema: string;
  outputSchema: string;
  /** Media types accepted and produced; empty means JSON. */
  inputContentTypes: string[];
  outputContentTypes: string[];
  examples: string[];
  /** A streamed method (`InvokeStream`): its answer is a sequence of chunks. Absent: false. */
  streaming?: boolean;
}

/** Load an agent reports with its heartbeats. */
export interface LoadReport {
  inFlight: number;
  queueDepth: number;
}

/** A registered agent. */
export interface AgentRecord {
  id: string;
  spec: AgentSpec;
  spiffeId: string;
  health: Health;
  load: LoadReport;
  registeredAt: number;
  leaseExpiresAt: number;
  /** The lease's time to live: heartbeats must come more often than this. */
  leaseTtlMs: number;
  /** The store revision of the record's last change. */
  revision: number;
  /**
   * The agent types the certificate it registered with entitles it to (kept by the control plane, not sent to
   * watchers): with the policies' grants, whether it may stay registered when the policies change. Undefined for a
   * record written before entitlements.
   */
  certificateTypes?: readonly string[];
}

/** Weight of an agent that declares none. */
export const DEFAULT_WEIGHT = 100;
const CAPABILITY = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const MAX_CAPABILITIES = 64;
const MAX_LABELS = 64;
const MAX_DESCRIPTION = 1024;
const MAX_WEIGHT = 10_000;
/** A version as `meshVersion` carries it: semver-like text, bounded. */
const MESH_VERSION_TEXT = /^[A-Za-z0-9.+-]{1,64}$/;
// Skill ids are also method names (`callTool` invokes the method of the skill's id): the same characters.
const SKILL_ID = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,64}\/[A-Za-z0-9!#$&^_.+*-]{1,64}$/;
const MAX_SKILLS = 64;
/**
 * The most a whole spec may take, as JSON: every agent holds every record it can call, and every change of one
 * travels to every watcher, so one agent must not weigh megabytes (64 skills of the largest schemas would).
 */
export const MAX_SPEC_BYTES = 128 * 1024;
const MAX_SCHEMA = 16 * 1024;

/** Whether `spec` offers the skill `id` (when given) and a skill tagged `tag` (when given). */
export function offersSkill(spec: AgentSpec, id: string | undefined, tag: string | undefined): boolean {
  if (id && !spec.skills.some((skill) => skill.id === id)) return false;
  if (tag && !spec.skills.some((skill) => skill.tags.includes(tag))) return false;
  return true;
}

/** Checks an agent's skills: unique ids, bounded texts, tags like capabilities, schemas as JSON objects. */
export function validateSkills(skills: readonly Skill[]): Result<Skill[]> {
  const bad = (why: string) => fail(Code.INVALID_ARGUMENT, why);
  if (skills.length > MAX_SKILLS) return bad(`more than ${MAX_SKILLS} skills`);
  const ids = new Set<string>();
  for (const skill of skills) {
    if (!SKILL_ID.test(skill.id)) {
      return bad(`skill id "${skill.id.slice(0, 40)}" must be 1-128 letters, digits, ".", "_", "/" or "-"`);
    }
    if (ids.has(skill.id)) return bad(`skill ${quote(skill.id)} is listed twice`);
    ids.add(skill.id);
    const where = `skill ${quote(skill.id)}`;
    if (skill.name.length > 200) return bad(`${where}: name is longer than 200 characters`);
    if (skill.description.length > 2048) return bad(`${where}: description is longer than 2048 characters`);
    if (skill.tags.length > 32) return bad(`${where}: more than 32 tags`);
    const tag = skill.tags.find((t) => !CAPABILITY.test(t));
    if (tag !== undefined) return bad(`${where}: tag "${tag.slice(0, 40)}" must look like a capability`);
    for (const [side, schema] of [
      ['input', skill.inputSchema],
      ['output', skill.outputSchema],
    ] as const) {
      if (!schema) continue;
      if (schema.length > MAX_SCHEMA) return bad(`${where}: ${side} schema is larger than 16 KiB`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(schema);
      } catch {
        return bad(`${where}: ${side} schema is not JSON (give a JSON Schema as JSON text)`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return bad(`${where}: ${side} schema must be a JSON object (a JSON Schema)`);
      }
    }
    for (const types of [skill.inputContentTypes, skill.outputContentTypes]) {
      if (types.length > 8) return bad(`${where}: more than 8 content types`);
      const wrong = types.find((type) => !MEDIA_TYPE.test(type));
      if (wrong !== undefined) return bad(`${where}: "${wrong.slice(0, 40)}" is not a media type`);
    }
    if (skill.examples.length > 8 || skill.examples.some((example) => example.length > 1024)) {
      return bad(`${where}: at most 8 examples of at most 1024 characters`);
    }
  }
  return ok(skills.map((skill) => ({ ...skill, tags: [...new Set(skill.tags)] })));
}

/** Checks `host:port` (a hostname, an IPv4 address or a bracketed IPv6 address, and a port from 1 to 65535). */
export function validEndpoint(endpoint: string): boolean {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(endpoint);
  if (!match) return false;
  const port = Number(match[2]);
  return port >= 1 && port <= 65_535;
}

/**
 * Checks and normalizes a spec: type and capabilities follow their patterns, the name is a valid identity name,
 * labels are valid Kubernetes labels, the endpoint is `host:port`; weight 0 becomes {@link DEFAULT_WEIGHT}.
 * Duplicate capabilities are dropped. Returns INVALID_ARGUMENT naming the first problem.
 */
export function validateSpec(spec: AgentSpec): Result<AgentSpec> {
  const bad = (why: string) => fail(Code.INVALID_ARGUMENT, `invalid agent spec: ${why}`);
  const type = validateAgentType(spec.type);
  if (!type.ok) return bad(type.error.message);
  const name = validateIdentityName(spec.name);
  if (!name.ok) return bad(name.error.message);
  if (spec.capabilities.length > MAX_CAPABILITIES) return bad(`more than ${MAX_CAPABILITIES} capabilities`);
  const wrongCapability = spec.capabilities.find((capability) => !CAPABILITY.test(capability));
  if (wrongCapability !== undefined) {
    return bad(
      `capability ${quote(wrongCapability)} must be 1-128 letters, digits, ".", "_", ":", "/" or "-"`,
    );
  }
  const labels = Object.entries(spec.labels);
  if (labels.length > MAX_LABELS) return bad(`more than ${MAX_LABELS} labels`);
  for (const [key, value] of labels) {
    if (!validLabelKey(key)) return bad(`label key ${quote(key)} is not a valid label key`);
    if (!validLabelValue(value)) return bad(`label ${quote(key)} has an invalid value ${quote(value)}`);
  }
  if (!validEndpoint(spec.endpoint))
    return bad(`endpoint ${quote(spec.endpoint)} must be host:port, e.g. 127.0.0.1:7501`);
  if (!Number.isInteger(spec.weight) || spec.weight < 0 || spec.weight > MAX_WEIGHT) {
    return bad(`weight must be a whole number from 0 to ${MAX_WEIGHT}`);
  }
  if (!Number.isInteger(spec.maxConcurrency) || spec.maxConcurrency < 0) {
    return bad('max concurrency must be a whole number, 0 for no limit');
  }
  if (spec.description.length > MAX_DESCRIPTION)
    return bad(`description is longer than ${MAX_DESCRIPTION} characters`);
  const subscriptions = validateSubscriptions(spec.subscriptions);
  if (!subscriptions.ok) return bad(subscriptions.error.message);
  const skills = validateSkills(spec.skills);
  if (!skills.ok) return bad(skills.error.message);
  if (spec.meshVersion !== undefined && !MESH_VERSION_TEXT.test(spec.meshVersion)) {
    return bad('mesh version must be 1-64 letters, digits, ".", "+" or "-" (e.g. 0.1.0)');
  }
  const normalized = {
    ...spec,
    subscriptions: subscriptions.value,
    skills: skills.value,
    capabilities: [...new Set(spec.capabilities)],
    labels: { ...spec.labels },
    weight: spec.weight === 0 ? DEFAULT_WEIGHT : spec.weight,
  };
  const bytes = Buffer.byteLength(JSON.stringify(normalized));
  if (bytes > MAX_SPEC_BYTES) {
    return bad(
      `the spec is ${bytes} bytes as JSON, over the limit of ${MAX_SPEC_BYTES}: shorten skill schemas, descriptions and examples, or offer fewer skills`,
    );
  }
  return ok(normalized);
}
