import { X509Certificate } from 'node:crypto';
import { renewIdentity, type ControlPlaneClient } from '../control-plane/client.js';
import type { IdentityMaterial } from '../identity/certs-dir.js';
import type { Logger } from '../observability/logger.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';

/** Options for {@link CertificateRenewer}. */
export interface CertificateRenewerOptions {
  identity: MeshIdentity;
  client: ControlPlaneClient;
  logger: Logger;
  /** Where in the certificate's lifetime to renew (default 0.5: half-way). */
  fraction?: number;
  /** Spread around that point, as a share of the lifetime (default 0.1: ±10%), so a fleet does not renew at once. */
  jitter?: number;
  /** First retry delay after a failed renewal (default 1 s), doubling up to a tenth of the remaining lifetime. */
  retryMs?: number;
  /** Called with each renewed identity (e.g. to write it to disk). */
  onRenewed?: (material: IdentityMaterial) => void | Promise<void>;
  random?: () => number;
  clock?: { now(): number };
}

/**
 * Keeps an identity fresh: renews it through the control plane at about half its lifetime, with jitter, and puts
 * the new certificate into force for new connections (the identity is a certificate provider). A failed renewal
 * is retried with backoff until the old certificate expires.
 */
export class CertificateRenewer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private failures = 0;
  private readonly random: () => number;
  private readonly clock: { now(): number };

  constructor(private readonly options: CertificateRenewerOptions) {
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * When the next renewal is due, for the current certificate (ms since the epoch). The lifetime counts from when
   * the certificate was put into force, not from its notBefore, which issuers backdate for clock skew.
   */
  nextRenewalAt(): number {
    const certificate = new X509Certificate(this.options.identity.current.certificatePem);
    const start = Math.max(Date.parse(certificate.validFrom), this.options.identity.updatedAt);
    const lifetime = Date.parse(certificate.validTo) - start;
    const fraction = (this.options.fraction ?? 0.5) + (this.random() * 2 - 1) * (this.options.jitter ?? 0.1);
    return start + lifetime * Math.min(0.95, Math.max(0.05, fraction));
  }

  /** Renews now. */
  async renew(): Promise<IdentityMaterial> {
    const material = await renewIdentity(this.options.client, this.options.identity);
    await this.options.onRenewed?.(material);
    this.options.logger.info(
      {
        spiffeId: this.options.identity.spiffeId.uri,
        expiresAt: new Date(this.options.identity.expiresAt).toISOString(),
      },
      'certificate renewed',
    );
    return material;
  }

  private schedule(delayMs?: number): void {
    if (this.stopped) return;
    const delay = delayMs ?? Math.max(0, this.nextRenewalAt() - this.clock.now());
    this.timer = setTimeout(() => void this.run(), delay);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    try {
      await this.renew();
      this.failures = 0;
      this.schedule();
    } catch (error) {
      this.failures += 1;
      const remaining = this.options.identity.expiresAt - this.clock.now();
      const backoff = Math.min(
        (this.options.retryMs ?? 1_000) * 2 ** (this.failures - 1),
        Math.max(1_000, remaining / 10),
      );
      this.options.logger.warn(
        { err: error, retryInMs: Math.round(backoff), expiresInMs: remaining },
        'certificate renewal failed',
      );
      this.schedule(backoff * (0.5 + this.random() / 2));
    }
  }
}
