-- Tracing (HTTP-CONTRACT §18, lro.tracing): the submit's W3C trace context, a JSON
-- object with its `traceparent` (and `tracestate` when it had one), so the job's queue
-- wait, attempts, steps and webhook deliveries are spans of the submit's trace. NULL
-- when tracing was off at submit.
ALTER TABLE lro_jobs ADD COLUMN trace_context text;
