-- Tracing (HTTP-CONTRACT §18, lro.tracing): the submit request's W3C trace context
-- (`traceparent`, then `,` and `tracestate` when it had one), so the job's queue wait,
-- attempts, steps and webhook deliveries are spans of the submit's trace. NULL when the
-- submit carried none or tracing is off.
ALTER TABLE lro_jobs ADD COLUMN trace_context text;
