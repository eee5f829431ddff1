"""The SQLite gallery schema and its ordered migrations (entry i brings version i to i + 1).

Version 1 (faceprint before multi-model galleries): ``faces`` held one embedding per row (model,
dim, embedding BLOB), unique per identity + model + content hash; ``gallery_meta`` named the one
model.

Version 2: a face is a photo of a person (``faces``: identity, content hash, box, quality, source,
created; unique per identity + content hash) and holds one embedding per model
(``embeddings``: face, identity (denormalised, for the change log), model, dim, float32
little-endian BLOB; primary key face + model). ``models`` records which models the gallery holds
(tag, dim, the pipeline that made them as JSON, when added); ``gallery_meta`` keeps the primary
model (the first added: what a caller that names no model gets). The change log ``face_log``
gains the model of each change and is filled by triggers on ``embeddings`` (a face deleted
cascades to its embeddings, which log themselves).

Migration 1 → 2 copies every face and embedding into the new tables (face ids kept, the id
sequence kept so no id is reused) and runs in the one ``BEGIN IMMEDIATE`` transaction the store
opens for migrations: a process killed mid-way leaves the file at version 1, untouched.
"""

from __future__ import annotations

_V1: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE gallery_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE identities (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        metadata TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL)""",
    """CREATE TABLE faces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        embedding BLOB NOT NULL,
        sha256 TEXT NOT NULL,
        x1 REAL, y1 REAL, x2 REAL, y2 REAL,
        quality REAL,
        source TEXT,
        created REAL NOT NULL,
        UNIQUE (identity_id, model, sha256))""",
    "CREATE INDEX faces_sha256 ON faces(sha256)",
    """CREATE TABLE face_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        op TEXT NOT NULL,
        face_id INTEGER NOT NULL,
        identity_id INTEGER NOT NULL)""",
    """CREATE TRIGGER faces_log_add AFTER INSERT ON faces BEGIN
        INSERT INTO face_log(op, face_id, identity_id) VALUES ('add', NEW.id, NEW.identity_id); END""",
    """CREATE TRIGGER faces_log_del AFTER DELETE ON faces BEGIN
        INSERT INTO face_log(op, face_id, identity_id) VALUES ('del', OLD.id, OLD.identity_id); END""",
    """CREATE TRIGGER faces_log_upd AFTER UPDATE OF embedding, identity_id ON faces BEGIN
        INSERT INTO face_log(op, face_id, identity_id) VALUES ('del', OLD.id, OLD.identity_id);
        INSERT INTO face_log(op, face_id, identity_id) VALUES ('add', NEW.id, NEW.identity_id); END""",
)

_V2: tuple[str, ...] = (
    """CREATE TABLE models (
        tag TEXT PRIMARY KEY,
        dim INTEGER NOT NULL,
        pipeline TEXT,
        added REAL NOT NULL)""",
    """INSERT INTO models(tag, dim, pipeline, added)
        SELECT m.value, CAST(d.value AS INTEGER), NULL, CAST(COALESCE(c.value, '0') AS REAL)
        FROM gallery_meta m JOIN gallery_meta d ON d.key = 'dim' LEFT JOIN gallery_meta c ON c.key = 'created'
        WHERE m.key = 'model'""",
    """CREATE TABLE faces_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        x1 REAL, y1 REAL, x2 REAL, y2 REAL,
        quality REAL,
        source TEXT,
        created REAL NOT NULL,
        UNIQUE (identity_id, sha256))""",
    """CREATE TABLE embeddings (
        face_id INTEGER NOT NULL REFERENCES faces_v2(id) ON DELETE CASCADE,
        identity_id INTEGER NOT NULL,
        model TEXT NOT NULL REFERENCES models(tag) ON DELETE CASCADE,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (face_id, model))""",
    # a version-1 gallery holds one model, so (identity, hash) is already unique; the MIN keeps it so
    """INSERT INTO faces_v2(id, identity_id, sha256, x1, y1, x2, y2, quality, source, created)
        SELECT id, identity_id, sha256, x1, y1, x2, y2, quality, source, created FROM faces
        WHERE id IN (SELECT MIN(id) FROM faces GROUP BY identity_id, sha256)""",
    """INSERT OR IGNORE INTO models(tag, dim, pipeline, added)
        SELECT model, dim, NULL, MIN(created) FROM faces GROUP BY model""",
    """INSERT OR IGNORE INTO embeddings(face_id, identity_id, model, dim, vector)
        SELECT (SELECT MIN(g.id) FROM faces g WHERE g.identity_id = f.identity_id AND g.sha256 = f.sha256),
               f.identity_id, f.model, f.dim, f.embedding
        FROM faces f ORDER BY f.id""",
    # keep the id sequence: a new face never gets the id of a deleted one
    """INSERT INTO sqlite_sequence(name, seq)
        SELECT 'faces_v2', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'faces_v2')""",
    """UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'faces'), 0))
        WHERE name = 'faces_v2'""",
    "DROP TRIGGER faces_log_add",
    "DROP TRIGGER faces_log_del",
    "DROP TRIGGER faces_log_upd",
    "DROP TABLE faces",
    "ALTER TABLE faces_v2 RENAME TO faces",
    "CREATE INDEX faces_sha256 ON faces(sha256)",
    "CREATE INDEX faces_identity ON faces(identity_id)",
    "CREATE INDEX embeddings_model ON embeddings(model, face_id)",
    "CREATE INDEX embeddings_identity ON embeddings(identity_id)",
    "ALTER TABLE face_log ADD COLUMN model TEXT",
    "UPDATE face_log SET model = (SELECT value FROM gallery_meta WHERE key = 'model')",
    """CREATE TRIGGER embeddings_log_add AFTER INSERT ON embeddings BEGIN
        INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('add', NEW.face_id, NEW.identity_id, NEW.model); END""",
    """CREATE TRIGGER embeddings_log_del AFTER DELETE ON embeddings BEGIN
        INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('del', OLD.face_id, OLD.identity_id, OLD.model); END""",
    """CREATE TRIGGER embeddings_log_upd AFTER UPDATE ON embeddings BEGIN
        INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('del', OLD.face_id, OLD.identity_id, OLD.model);
        INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('add', NEW.face_id, NEW.identity_id, NEW.model); END""",
)

#: Ordered migrations; entry i brings the schema from version i to i + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)
