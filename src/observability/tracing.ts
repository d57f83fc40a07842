import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context as otelContext,
  createTraceState,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { codeName, type MeshError } from '../core/errors.js';
import type { Logger } from './logger.js';

/**
 * OpenTelemetry spans for mesh calls and events, through `@opentelemetry/api` only: with no tracer provider
 * registered (the default) every span is a non-recording no-op, and the W3C `traceparent` the mesh propagates
 * anyway keeps traces linked across agents. {@link startTracingFromEnv} registers a provider exporting over OTLP
 * when the standard `OTEL_*` variables ask for it; a program may also register its own provider instead.
 */
const tracer = trace.getTracer('agent-mesh', '0.1.0');

export { SpanKind };

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The OpenTelemetry context whose parent is the remote span named by `traceparent` (or the root context). */
export function contextFromTraceparent(traceparent: string | undefined, tracestate?: string): Context {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
  });
}

/** What a span is: its name and attributes, and the `traceparent` of its parent, if the mesh carries one. */
export interface SpanDescription {
  name: string;
  attributes: Attributes;
  parentTraceparent: string | undefined;
}

/**
 * Starts a span. Its parent is the span named by `parentTraceparent` when given (the call context the mesh
 * propagates), else the active OpenTelemetry span (a program's own instrumentation), else none. `describe` is
 * called only when a tracer provider is registered: without one, a call or delivery builds no name, attributes or
 * parent context, and gets a shared no-op span. `subject` is handed to `describe`, so that a hot path can pass a
 * function made once rather than a new closure each time.
 */
export function startSpan<A = undefined>(
  kind: SpanKind,
  describe: (subject: A) => SpanDescription,
  subject?: A,
): Span {
  if (!tracingRegistered()) return NO_SPAN;
  const { name, attributes, parentTraceparent } = describe(subject as A);
  const parent = parentTraceparent ? contextFromTraceparent(parentTraceparent) : otelContext.active();
  return tracer.startSpan(name, { kind, attributes }, parent);
}

/** The `traceparent` naming `span`, when it records (a real span); undefined for a no-op span. */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Ends a span with the call's outcome: OK, or the gRPC status of the error. */
export function endSpan(span: Span, error?: MeshError | undefined): void {
  if (!span.isRecording()) {
    span.end();
    return;
  }
  span.setAttribute('rpc.grpc.status_code', error?.code ?? 0);
  if (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${codeName(error.code)}: ${error.message}` });
  }
  span.end();
}

/** Runs `work` with `span` as the active OpenTelemetry span (for a program's own instrumentation inside). */
export function withSpan<T>(span: Span, work: () => T): T {
  if (!span.isRecording()) return work();
  return otelContext.with(trace.setSpan(otelContext.active(), span), work);
}

/** The span of every call while no tracer provider is registered: records nothing, costs nothing. */
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether a tracer provider is registered (by {@link startTracingFromEnv} or by the program). Without one every
 * span is a no-op, so the mesh skips reading parents and building spans on its hot paths.
 */
function tracingRegistered(): boolean {
  const global = trace.getTracerProvider();
  return !(global instanceof ProxyTracerProvider) || global.getDelegateTracer('agent-mesh') !== undefined;
}

let provider: NodeTracerProvider | undefined;

/**
 * Registers a tracer provider exporting spans when the standard OpenTelemetry variables ask for it:
 * `OTEL_TRACES_EXPORTER` of `otlp` (or `console`), or an `OTEL_EXPORTER_OTLP_ENDPOINT` /
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (OTLP over HTTP; headers, timeouts and sampling from the other `OTEL_*`
 * variables). `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keeps it off. The service is named by
 * `OTEL_SERVICE_NAME`, else `serviceName`. Once per process; later calls return the same answer.
 * @returns whether spans are exported.
 */
export function startTracingFromEnv(serviceName: string, logger: Logger, env = process.env): boolean {
  if (provider) return true;
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const wanted = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (wanted.includes('none')) return false;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (wanted.length === 0 && endpoint) wanted.push('otlp');
  const exporters: SpanExporter[] = [];
  for (const name of wanted) {
    if (name === 'otlp') exporters.push(new OTLPTraceExporter());
    else if (name === 'console') exporters.push(new ConsoleSpanExporter());
    else logger.warn({ exporter: name }, 'OTEL_TRACES_EXPORTER names an exporter agent-mesh lacks; ignored');
  }
  if (exporters.length === 0) return false;
  registerTracing(
    serviceName,
    exporters.map((exporter) => new BatchSpanProcessor(exporter)),
    env,
  );
  logger.info({ exporters: wanted, endpoint }, 'exporting OpenTelemetry traces');
  return true;
}

/** Registers a tracer provider with `processors` (tests pass an in-memory exporter's). */
export function registerTracing(serviceName: string, processors: SpanProcessor[], env = process.env): void {
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors: processors,
  });
  provider.register();
}

/** Sends the spans not exported yet (before a process exits); nothing to do when tracing is off. */
export async function flushTracing(timeoutMs = 5_000): Promise<void> {
  if (!provider) return;
  let timer: NodeJS.Timeout | undefined;
  // A collector that does not answer must not hold up an exit.
  await Promise.race([
    provider.forceFlush().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

/** Unregisters the provider started here, after flushing it (tests). */
export async function stopTracing(): Promise<void> {
  const current = provider;
  provider = undefined;
  if (!current) return;
  await current.shutdown().catch(() => undefined);
  trace.disable();
  otelContext.disable();
}
