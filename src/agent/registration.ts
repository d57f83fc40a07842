import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, type BackoffSettings } from '../core/backoff.js';
import type { AgentSpec, LoadReport } from '../core/agent-record.js';
import type { ControlPlaneClient } from '../control-plane/client.js';
import type { CallReports } from '../data-plane/call-reports.js';
import { Code, MeshError, codeName } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

/** How long a registration waits out the control plane's rate limit (its retry-after hints) before failing. */
const REGISTER_PATIENCE_MS = 30_000;
/** How long an agent whose registration is refused for who it is (PERMISSION_DENIED) waits before asking again. */
const REFUSED_RETRY_MS = 60_000;

/** What an agent registers: its spec as of now (with its current subscriptions). */
export type RegistrationSpec = Partial<AgentSpec> & Pick<AgentSpec, 'type' | 'name' | 'endpoint'>;

/** Options for {@link AgentRegistration}. */
export interface AgentRegistrationOptions {
  client: ControlPlaneClient;
  /** The spec to register; asked again at every registration, so a re-registration carries what is current. */
  spec: () => RegistrationSpec;
  /** The lease asked for; heartbeats go at about a third of the lease granted. */
  leaseTtlMs: number;
  /** The load each heartbeat reports. */
  load: () => LoadReport;
  /** The calls made since the last heartbeat, sent with it (and put back when it fails). */
  reports?: CallReports;
  logger: Logger;
  /** How failed heartbeats are retried (default: 100 ms doubling to 5 s, jittered). */
  backoff?: Partial<BackoffSettings>;
  random?: () => number;
}

/**
 * An agent's registration with the control plane, and the one loop that keeps it: one heartbeat in flight at a
 * time, every third of the lease while the control plane answers, and with jittered backoff when it does not. When
 * the control plane says the registration is gone (its lease ended while the control plane was unreachable, or the
 * control plane restarted with an empty store), the loop registers again with the full spec, subscriptions
 * included, without a restart. Registrations never overlap: while one is under way, every further change waits
 * for the next one, which carries them all; a refusal by the control plane's rate limit is waited out. Once the
 * agent drains, a registration keeps it draining, and once it has deregistered, it registers no more.
 */
export class AgentRegistration {
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private beating = false;
  private stopped = true;
  private draining = false;
  private grantedTtlMs: number;
  /** The agent's name: the id of its registration. */
  private readonly id: string;
  /** The registration being sent, and the next one, which every change made meanwhile shares. */
  private sending: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private left = false;
  /** The last refusal logged (code and message), so that a refusal that repeats on every retry is logged once. */
  private lastRefusal: string | undefined;

  private registeredRevision = 0;

  constructor(private readonly options: AgentRegistrationOptions) {
    this.random = options.random ?? Math.random;
    this.backoff = new Backoff(options.backoff, this.random);
    this.grantedTtlMs = options.leaseTtlMs;
    this.id = options.spec().name;
  }

  /**
   * Registers (or registers again with the current spec, e.g. after a subscription change), after any registration
   * already under way; changes made while one waits share it.
   * @throws MeshError from the control plane (INVALID_ARGUMENT, PERMISSION_DENIED, UNAVAILABLE, RESOURCE_EXHAUSTED
   * past the patience for rate limits), FAILED_PRECONDITION once the agent has deregistered.
   */
  register(): Promise<void> {
    if (this.left) return Promise.reject(leftError());
    if (this.queued) return this.queued;
    if (!this.sending) return this.send();
    const queued = this.sending
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.send();
      });
    this.queued = queued;
    return queued;
  }

  /** The store revision of the last registration that succeeded (0 before the first). */
  get revision(): number {
    return this.registeredRevision;
  }

  /** Whether the agent has deregistered (it registers no more). */
  get deregistered(): boolean {
    return this.left;
  }

  private send(): Promise<void> {
    const sending = this.registerOnce().finally(() => {
      if (this.sending === sending) this.sending = undefined;
    });
    this.sending = sending;
    return sending;
  }

  /** One registration, waiting out rate-limit refusals for a while; a draining agent stays draining. */
  private async registerOnce(): Promise<void> {
    const patience = Date.now() + REGISTER_PATIENCE_MS;
    for (;;) {
      if (this.left) throw leftError();
      try {
        const { leaseTtlMs, record } = await this.options.client.register(
          this.options.spec(),
          this.options.leaseTtlMs,
        );
        this.registeredRevision = record.revision;
        this.grantedTtlMs = leaseTtlMs > 0 ? leaseTtlMs : this.options.leaseTtlMs;
        if (this.left) {
          // Deregistered while this was under way: it must not outlive the deregistration.
          await this.options.client.deregister(this.id, { timeoutMs: 2_000 }).catch(() => undefined);
        } else if (this.draining) {
          await this.options.client
            .heartbeat(this.id, this.options.load(), true, [], { timeoutMs: this.heartbeatTimeout() })
            .catch(() => undefined);
        }
        return;
      } catch (caught) {
        const error = MeshError.from(caught);
        const wait = error.code === Code.RESOURCE_EXHAUSTED ? error.retryAfterMs : undefined;
        if (wait === undefined || Date.now() + wait > patience) throw error;
        await sleep(wait, undefined, { ref: false });
      }
    }
  }

  /** Starts the heartbeat loop (after a first successful {@link register}). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.interval());
  }

  /**
   * Heartbeats now rather than at the next tick: the watch found the control plane again and its snapshot lacks
   * this agent, so the registration is likely gone and is renewed at once.
   */
  poke(): void {
    if (this.stopped || this.beating) return;
    this.schedule(0);
  }

  /**
   * Marks the agent draining (callers stop picking it) with one heartbeat within `timeoutMs`; heartbeats go on,
   * draining, until {@link deregister}. A control plane that does not answer in time does not hold the drain up.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    await this.options.client
      .heartbeat(this.id, this.options.load(), true, [], { timeoutMs: Math.max(1, timeoutMs) })
      .catch(() => undefined);
  }

  /**
   * Stops the loop and removes the registration, waiting at most `timeoutMs` in all: a registration under way
   * lands first (or deregisters itself when it lands later), so that none outlives this.
   */
  async deregister(timeoutMs: number): Promise<void> {
    this.left = true;
    this.stop();
    const until = Date.now() + timeoutMs;
    const pending = Promise.allSettled([this.sending, this.queued]);
    await Promise.race([pending, sleep(Math.max(0, timeoutMs), undefined, { ref: false })]);
    await this.options.client
      .deregister(this.id, { timeoutMs: Math.max(1, until - Date.now()) })
      .catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A third of the lease, less up to 10% at random, so that agents started together do not beat in step. */
  private interval(): number {
    return (this.grantedTtlMs / 3) * (0.9 + 0.1 * this.random());
  }

  /** A heartbeat may wait at most half the lease, and at most 10 s, for its answer. */
  private heartbeatTimeout(): number {
    return Math.max(1_000, Math.min(10_000, this.grantedTtlMs / 2));
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.beat(), delayMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.stopped || this.beating) return;
    this.beating = true;
    const calls = this.options.reports?.take() ?? [];
    let delay: number;
    try {
      await this.options.client.heartbeat(this.id, this.options.load(), this.draining, calls, {
        timeoutMs: this.heartbeatTimeout(),
      });
      delay = this.succeeded();
    } catch (caught) {
      this.options.reports?.restore(calls);
      const error = MeshError.from(caught);
      if (error.code === Code.NOT_FOUND && !this.draining) {
        delay = await this.registerAgain(error);
      } else {
        this.refused('heartbeat', error);
        delay = this.retryDelay(error);
        if (error.code === Code.PERMISSION_DENIED) delay = Math.max(delay, REFUSED_RETRY_MS); // e.g. revoked
      }
    } finally {
      this.beating = false;
    }
    this.schedule(delay);
  }

  /** The registration is gone: register again with the full spec. Returns when to heartbeat next. */
  private async registerAgain(lost: MeshError): Promise<number> {
    // Once per loss: while registering again keeps being refused, the refusal is what is logged (once).
    if (this.lastRefusal === undefined) {
      this.options.logger.warn(
        { reason: lost.message.slice(0, 300) },
        'registration lost (lease ended, or the control plane restarted without it); registering again',
      );
    }
    try {
      await this.register();
      this.options.logger.info({ controlPlane: this.options.client.address }, 'registered again');
      return this.succeeded();
    } catch (caught) {
      const error = MeshError.from(caught);
      this.refused('registration', error);
      // Refused for who the agent is (revoked, or not entitled to its type): that changes only when an
      // administrator acts, so it asks again rarely rather than every few seconds.
      if (error.code === Code.PERMISSION_DENIED) return Math.max(this.retryDelay(error), REFUSED_RETRY_MS);
      return this.retryDelay(error);
    }
  }

  private succeeded(): number {
    this.backoff.reset();
    this.lastRefusal = undefined;
    return this.interval();
  }

  /** The backoff's next delay, or the control plane's own retry-after hint when it gave one that is longer. */
  private retryDelay(error: MeshError): number {
    const delay = this.backoff.next();
    return error.retryAfterMs !== undefined ? Math.max(delay, error.retryAfterMs) : delay;
  }

  /**
   * Logs a refusal by a control plane that answered (an unreachable one is logged by the client, once per outage),
   * unless it is the same refusal as last time.
   */
  private refused(what: string, error: MeshError): void {
    if (error.code === Code.UNAVAILABLE || error.code === Code.DEADLINE_EXCEEDED) return;
    const refusal = `${codeName(error.code)}: ${error.message.slice(0, 300)}`;
    if (refusal === this.lastRefusal) return;
    this.lastRefusal = refusal;
    this.options.logger.warn(
      { reason: refusal },
      `${what} refused by the control plane; retrying with backoff`,
    );
  }
}

function leftError(): MeshError {
  return new MeshError(
    Code.FAILED_PRECONDITION,
    'the agent has drained and left the mesh: it registers no more (start a new agent)',
  );
}
