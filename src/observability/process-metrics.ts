import { Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

// prom-client's default collectors cannot be stopped: each collectDefaultMetrics call adds a GC observer and an
// event-loop monitor for the life of the process. The process metrics describe the process, not an agent or a
// control plane, so they are collected once per process and registered in every registry that wants them; a
// process that starts and stops agents or control planes (tests, embedders) does not pile up observers.
let processRegistry: Registry | undefined;

/**
 * Registers prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`) in `registry`, collected
 * once per process. Left out: the three gauges named `nodejs_active_{handles,requests,resources}_total`, since
 * `_total` is for counters (promtool flags them); the same numbers are in the gauges without the suffix, by type.
 */
export function registerProcessMetrics(registry: Registry): void {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  // getMetricsAsArray returns the metric objects themselves (typed as their plain description).
  for (const metric of processRegistry.getMetricsAsArray() as unknown as Metric[]) {
    const { name } = metric as unknown as { name: string };
    if (metric instanceof Gauge && name.endsWith('_total')) continue;
    registry.registerMetric(metric);
  }
}
