-- A run store of schema version 4, written by the RunStore of scinas before `trials.time_cost_s`
-- existed (schema 5): two completed trials with their wall training time only.  Dumped with
-- sqlite3.Connection.iterdump().
BEGIN TRANSACTION;
CREATE TABLE epochs (
    trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL CHECK (epoch >= 1),
    metrics TEXT NOT NULL DEFAULT '{}',
    loss REAL,
    val_loss REAL,
    epoch_time_s REAL,
    learning_rate REAL,
    prediction REAL,
    converged INTEGER NOT NULL DEFAULT 0 CHECK (converged IN (0, 1)),
    curve TEXT,
    prediction_time_s REAL,
    PRIMARY KEY (trial_id, epoch)
) WITHOUT ROWID;
INSERT INTO "epochs" VALUES(1,1,'{"loss": 0.5}',0.5,NULL,12.5,NULL,NULL,0,NULL,NULL);
INSERT INTO "epochs" VALUES(2,1,'{"loss": 0.5}',0.5,NULL,3.25,NULL,NULL,0,NULL,NULL);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "meta" VALUES('schema_version','4');
CREATE TABLE metrics (
    trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
    split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
    epoch INTEGER CHECK (epoch IS NULL OR epoch >= 1),
    name TEXT NOT NULL,
    value REAL
);
INSERT INTO "metrics" VALUES(1,'validation',NULL,'accuracy',0.5);
INSERT INTO "metrics" VALUES(2,'validation',NULL,'accuracy',0.6);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    created_at TEXT NOT NULL,
    finished_at TEXT,
    seed INTEGER,
    config TEXT NOT NULL,
    manifest TEXT NOT NULL
);
INSERT INTO "runs" VALUES('20260101-000000','A','running','2026-01-01T00:00:00.000+00:00',NULL,7,'[A]
','{"scinas": "0.1.0"}');
CREATE TABLE trials (
    trial_id INTEGER PRIMARY KEY AUTOINCREMENT,
    number INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    architecture TEXT NOT NULL,
    architecture_json TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    failure_reason TEXT,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    best_epoch INTEGER,
    epochs_completed INTEGER,
    train_time_s REAL,
    params INTEGER,
    flops REAL,
    latency_s REAL,
    estimate REAL,
    measured REAL,
    monitor TEXT,
    curve TEXT,
    curve_parameters TEXT,
    converged_epoch INTEGER CHECK (converged_epoch IS NULL OR converged_epoch >= 1),
    extra TEXT NOT NULL DEFAULT '{}',
    phase TEXT NOT NULL DEFAULT 'search' CHECK (phase IN ('search', 'selection', 'final', 'fixed'))
);
INSERT INTO "trials" VALUES(1,0,'t0000','cell 0',NULL,'completed',NULL,'2026-01-01T00:00:00.000+00:00','2026-01-01T00:00:00.000+00:00',1,1,1,12.5,100,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{}','search');
INSERT INTO "trials" VALUES(2,1,'t0001','cell 1',NULL,'completed',NULL,'2026-01-01T00:00:00.000+00:00','2026-01-01T00:00:00.000+00:00',1,1,1,3.25,200,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{}','search');
CREATE INDEX trials_by_status ON trials (status);
CREATE INDEX trials_by_phase ON trials (phase);
CREATE INDEX trials_by_number ON trials (number);
CREATE INDEX trials_by_estimate ON trials (estimate);
CREATE INDEX trials_by_architecture ON trials (architecture);
CREATE UNIQUE INDEX metrics_unique ON metrics (trial_id, split, name, IFNULL(epoch, 0));
CREATE INDEX metrics_by_name ON metrics (name, split, epoch);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('trials',2);
COMMIT;
