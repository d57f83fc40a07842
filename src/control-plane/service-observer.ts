import type { AgentRecord } from '../core/agent-record.js';
import type { Logger } from '../observability/logger.js';
import type { CallReport } from './call-graph.js';

/**
 * What the service tells the rest of the control plane about the requests it handled, for metrics and the
 * dashboard. Called after the request succeeded (except `rpcFinished`); an observer that throws is logged and
 * never fails the request.
 */
export interface ControlPlaneServiceObserver {
  /** A unary call finished with `code` after `seconds`, or a watch stream ended (`seconds` undefined). */
  rpcFinished?(method: string, code: number, seconds?: number): void;
  watchOpened?(): void;
  watchClosed?(): void;
  /** `record` registered; its connection presented a certificate expiring at `certificateExpiresAt`. */
  registered?(record: AgentRecord, certificateExpiresAt: number | undefined): void;
  /** `record` heartbeat (its state before this heartbeat's changes) with these call reports, not yet validated. */
  heartbeat?(
    record: AgentRecord,
    calls: readonly CallReport[],
    certificateExpiresAt: number | undefined,
  ): void;
  deregistered?(agentId: string): void;
  /** A certificate was signed for identity `name` (with a join token, or as a renewal). */
  certificateSigned?(signed: { name: string; spiffeId: string; expiresAt: number; join: boolean }): void;
}

/**
 * Runs `notify` (a call of an observer about `what`) so that it cannot fail the request it watched: observers are
 * for metrics and the dashboard, and a bug there is logged instead.
 */
export function observeSafely(logger: Logger, what: string, notify: () => void): void {
  try {
    notify();
  } catch (error) {
    logger.warn({ err: error, observer: what }, 'control-plane observer failed');
  }
}
