-- A run store of schema version 2, written by the RunStore of scinas before the trial phase
-- became a column (schema 3): search, selection and final trials hold their phase in `extra`,
-- the one trial of a fixed experiment has none.  Dumped with sqlite3.Connection.iterdump().
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
INSERT INTO "epochs" VALUES(1,1,'{"loss": 0.5}',0.5,NULL,NULL,NULL,NULL,0,NULL,NULL);
INSERT INTO "epochs" VALUES(2,1,'{"loss": 0.5}',0.5,NULL,NULL,NULL,NULL,0,NULL,NULL);
INSERT INTO "epochs" VALUES(3,1,'{"loss": 0.5}',0.5,NULL,NULL,NULL,NULL,0,NULL,NULL);
INSERT INTO "epochs" VALUES(4,1,'{"loss": 0.5}',0.5,NULL,NULL,NULL,NULL,0,NULL,NULL);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "meta" VALUES('schema_version','2');
CREATE TABLE metrics (
    trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
    split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
    epoch INTEGER CHECK (epoch IS NULL OR epoch >= 1),
    name TEXT NOT NULL,
    value REAL
);
INSERT INTO "metrics" VALUES(1,'validation',NULL,'accuracy',0.75);
INSERT INTO "metrics" VALUES(2,'validation',NULL,'accuracy',0.75);
INSERT INTO "metrics" VALUES(3,'validation',NULL,'accuracy',0.75);
INSERT INTO "metrics" VALUES(4,'validation',NULL,'accuracy',0.75);
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
INSERT INTO "runs" VALUES('20261204-120000-abcd','A','running','2026-12-04T16:18:42.109+00:00',NULL,7,'[A]
','{"packages": {"scinas": "0.1.0"}}');
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
    fitness REAL,
    measured REAL,
    monitor TEXT,
    curve TEXT,
    curve_parameters TEXT,
    converged_epoch INTEGER CHECK (converged_epoch IS NULL OR converged_epoch >= 1),
    extra TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO "trials" VALUES(1,0,'t0000','cell t0000','{}','completed',NULL,'2026-12-04T16:18:42.114+00:00','2026-12-04T16:18:42.115+00:00',1,1,1,NULL,100,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"blocks": 1, "executor": "inline", "phase": "search"}');
INSERT INTO "trials" VALUES(2,1,'t0001','cell t0001','{}','completed',NULL,'2026-12-04T16:18:42.121+00:00','2026-12-04T16:18:42.121+00:00',1,1,1,NULL,100,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"blocks": 1, "executor": "inline", "phase": "search"}');
INSERT INTO "trials" VALUES(3,2,'select-00','cell select-00','{}','completed',NULL,'2026-12-04T16:18:42.122+00:00','2026-12-04T16:18:42.123+00:00',1,1,1,NULL,100,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"executor": "inline", "phase": "selection"}');
INSERT INTO "trials" VALUES(4,3,'final','cell final','{}','completed',NULL,'2026-12-04T16:18:42.124+00:00','2026-12-04T16:18:42.125+00:00',1,1,1,NULL,100,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"executor": "inline", "phase": "final"}');
INSERT INTO "trials" VALUES(5,4,'trial-0000','Dense(12)',NULL,'failed','loss became NaN','2026-12-04T16:18:42.126+00:00','2026-12-04T16:18:42.126+00:00',1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{}');
CREATE INDEX trials_by_status ON trials (status);
CREATE INDEX trials_by_number ON trials (number);
CREATE INDEX trials_by_fitness ON trials (fitness);
CREATE INDEX trials_by_architecture ON trials (architecture);
CREATE UNIQUE INDEX metrics_unique ON metrics (trial_id, split, name, IFNULL(epoch, 0));
CREATE INDEX metrics_by_name ON metrics (name, split, epoch);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('trials',5);
COMMIT;

