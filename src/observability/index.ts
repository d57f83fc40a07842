/**
 * `agent-mesh/observability`: logs, metrics and traces. The pino logger the mesh logs with, the Prometheus
 * metrics of agents and control planes (one registry a process's agents may share), the small HTTP server that
 * serves `/metrics`, and OpenTelemetry tracing (W3C trace context travels with every call and event).
 */

export { createLogger, silentLogger } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { AgentInstruments, AgentMetrics } from './agent-metrics.js';
export { ControlPlaneMetrics } from './control-plane-metrics.js';
export type { ControlPlaneMetricsOptions } from './control-plane-metrics.js';
export { registerProcessMetrics } from './process-metrics.js';
export { metricsRoute, startHttpServer } from './http-server.js';
export type { HttpRoute, HttpServerOptions, RunningHttpServer } from './http-server.js';
export { flushTracing, registerTracing, startTracingFromEnv, stopTracing } from './tracing.js';
