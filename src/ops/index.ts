/** The ops HTTP surface's public names (used by the pipeline and the CLI). */
export { OpsServer, type OpsServerDeps, DLQ_DEFAULT_LIMIT, DLQ_MAX_LIMIT } from './ops-server.js';
export { downChecks, type HealthReport, type HealthCheck } from './health.js';
export { ApiError } from './api-error.js';
export { DlqReader, toDlqEntry, type DlqEntry, type DlqPage } from './dlq-reader.js';
export { DeviceQueries, type EventsAnswer, type RollupsAnswer } from './device-queries.js';
export { DEVICE_ID_PATTERN } from './query-params.js';
export { Auditor, type AuditReport, type AuditRow } from './auditor.js';
export { StatusReporter, type StatusReport } from './status-report.js';
export { DlqReplayer, type DlqAppend } from './dlq-replayer.js';
export { DlqPurger } from './dlq-purger.js';
