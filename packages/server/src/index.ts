export * from "./config.js";
export * from "./config-docs.js";
export * from "./tls.js";
export * from "./logger.js";
export * from "./server.js";
export * from "./http.js";
export { OtelTracing, tracingFromEnv, otlpTracesWanted, otlpTracesUrl, otlpTracesProtocol, type OtelTracingOptions, type OtlpProtocol } from "./tracing/otel-tracing.js";
export { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./tracing/otlp-receiver.js";
export * from "./admin/index.js";
