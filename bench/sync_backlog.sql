-- A backlog of 1,000,000 changes for bench/sync.mjs: 250,000 ended calls,
-- each with its 'created' and 'ended' events and an audit row, straight into
-- an (empty, migrated) call log. change_seq runs 1..1,000,000.
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250000)
INSERT INTO calls (id, patient_id, provider_id, appointment_id, type, status, scheduled_at, started_at, ended_at,
                   duration_ms, end_reason, created_by, created_at, updated_at, version, change_seq)
SELECT printf('%08x-0000-7000-8000-%012x', i, i), 'patient-' || (i % 5000), 'provider-' || (i % 300),
       'appt-' || i, CASE i % 5 WHEN 0 THEN 'audio' ELSE 'video' END, 'ended', NULL,
       1795000000000 + i * 1000, 1795000000000 + i * 1000 + 600000, 600000, 'hung_up', 'bench',
       1795000000000 + i * 1000, 1795000000000 + i * 1000 + 600000, 2, i * 4 - 3
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250000)
INSERT INTO call_events (id, call_id, type, actor_id, detail, occurred_at, created_at, updated_at, version, change_seq)
SELECT printf('%08x-0001-7000-8000-%012x', i, i), printf('%08x-0000-7000-8000-%012x', i, i), 'created', 'bench',
       NULL, 1795000000000 + i * 1000, 1795000000000 + i * 1000, 1795000000000 + i * 1000, 1, i * 4 - 2
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250000)
INSERT INTO call_events (id, call_id, type, actor_id, detail, occurred_at, created_at, updated_at, version, change_seq)
SELECT printf('%08x-0002-7000-8000-%012x', i, i), printf('%08x-0000-7000-8000-%012x', i, i), 'ended', 'bench',
       '{"reason":"hung_up","status":"ended"}', 1795000000000 + i * 1000 + 600000,
       1795000000000 + i * 1000 + 600000, 1795000000000 + i * 1000 + 600000, 1, i * 4 - 1
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250000)
INSERT INTO audit_log (id, occurred_at, actor_id, actor_role, action, outcome, call_id, remote_addr, detail,
                       created_at, updated_at, version, change_seq)
SELECT printf('%08x-0003-7000-8000-%012x', i, i), 1795000000000 + i * 1000, 'bench', 'service', 'call.create', 'ok',
       printf('%08x-0000-7000-8000-%012x', i, i), '127.0.0.1', NULL, 1795000000000 + i * 1000,
       1795000000000 + i * 1000, 1, i * 4
FROM n;
COMMIT;
