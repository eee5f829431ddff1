"""The PostgreSQL gallery schema and its ordered migrations (entry i brings version i to i + 1).

Version 1: ``faces`` held one embedding per row (model, dim, ``vector(d)`` embedding with one HNSW
index), unique per identity + model + content hash.

Version 2 (galleries holding several models): ``faces`` (photo of a person: identity, content
hash, box, quality, source, created; unique per identity + content hash), ``embeddings`` (face FK
``ON DELETE CASCADE``, identity (denormalised), model FK to ``models`` ``ON DELETE CASCADE``, dim,
an untyped ``vector``; primary key face + model), ``models`` (tag, dim, pipeline JSON, added). One
**partial expression HNSW index per model** (``(embedding::vector(d)) vector_ip_ops WHERE model =
tag``, see :func:`model_index_sql`), so vectors of several dimensions live in one column and each
model's search uses its own index. The change log gains the model and is filled by a trigger on
``embeddings``.

Migration 1 → 2 copies every embedding into ``embeddings`` (face ids kept), drops the embedding
columns and runs in the transaction that opens the gallery: PostgreSQL DDL is transactional, so a
process killed mid-way leaves version 1 untouched.
"""

from __future__ import annotations

import hashlib

_V1: tuple[str, ...] = (
    "CREATE TABLE gallery_meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE identities (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        metadata jsonb NOT NULL DEFAULT '{}',
        created double precision NOT NULL)""",
    """CREATE TABLE faces (
        id bigserial PRIMARY KEY,
        identity_id bigint NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
        model text NOT NULL,
        dim integer NOT NULL,
        embedding vector NOT NULL,
        sha256 text NOT NULL,
        x1 double precision, y1 double precision, x2 double precision, y2 double precision,
        quality double precision,
        source text,
        created double precision NOT NULL,
        UNIQUE (identity_id, model, sha256))""",
    "CREATE INDEX faces_identity ON faces(identity_id)",
    "CREATE INDEX faces_sha256 ON faces(sha256)",
    """CREATE TABLE face_log (
        seq bigserial PRIMARY KEY,
        op text NOT NULL,
        face_id bigint NOT NULL,
        identity_id bigint NOT NULL)""",
    """CREATE FUNCTION faces_log() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            INSERT INTO face_log(op, face_id, identity_id) VALUES ('add', NEW.id, NEW.identity_id);
          ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO face_log(op, face_id, identity_id) VALUES ('del', OLD.id, OLD.identity_id);
          ELSE
            INSERT INTO face_log(op, face_id, identity_id) VALUES ('del', OLD.id, OLD.identity_id);
            INSERT INTO face_log(op, face_id, identity_id) VALUES ('add', NEW.id, NEW.identity_id);
          END IF;
          RETURN NULL;
        END $$""",
    # not "UPDATE OF embedding": a column named in a trigger cannot change type (re-embedding does)
    "CREATE TRIGGER faces_log AFTER INSERT OR DELETE OR UPDATE ON faces FOR EACH ROW EXECUTE FUNCTION faces_log()",
)

_V2: tuple[str, ...] = (
    """CREATE TABLE models (
        tag text PRIMARY KEY,
        dim integer NOT NULL,
        pipeline jsonb,
        added double precision NOT NULL)""",
    """INSERT INTO models(tag, dim, pipeline, added)
        SELECT m.value, d.value::integer, NULL, COALESCE(c.value, '0')::double precision
        FROM gallery_meta m JOIN gallery_meta d ON d.key = 'dim' LEFT JOIN gallery_meta c ON c.key = 'created'
        WHERE m.key = 'model'""",
    """INSERT INTO models(tag, dim, pipeline, added)
        SELECT model, MIN(dim), NULL, MIN(created) FROM faces GROUP BY model ON CONFLICT DO NOTHING""",
    """CREATE TABLE embeddings (
        face_id bigint NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        identity_id bigint NOT NULL,
        model text NOT NULL REFERENCES models(tag) ON DELETE CASCADE,
        dim integer NOT NULL,
        embedding vector NOT NULL,
        PRIMARY KEY (face_id, model))""",
    """INSERT INTO embeddings(face_id, identity_id, model, dim, embedding)
        SELECT id, identity_id, model, dim, embedding FROM faces""",
    "DROP TRIGGER faces_log ON faces",
    "DROP FUNCTION faces_log()",
    "DROP INDEX IF EXISTS faces_embedding_hnsw",
    "ALTER TABLE faces DROP COLUMN embedding, DROP COLUMN dim, DROP COLUMN model",  # drops the old unique key too
    "ALTER TABLE faces ADD CONSTRAINT faces_identity_sha256 UNIQUE (identity_id, sha256)",
    "CREATE INDEX embeddings_model ON embeddings(model, identity_id)",
    "ALTER TABLE face_log ADD COLUMN model text",
    "UPDATE face_log SET model = (SELECT value FROM gallery_meta WHERE key = 'model')",
    """CREATE FUNCTION embeddings_log() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('add', NEW.face_id, NEW.identity_id, NEW.model);
          ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('del', OLD.face_id, OLD.identity_id, OLD.model);
          ELSE
            INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('del', OLD.face_id, OLD.identity_id, OLD.model);
            INSERT INTO face_log(op, face_id, identity_id, model) VALUES ('add', NEW.face_id, NEW.identity_id, NEW.model);
          END IF;
          RETURN NULL;
        END $$""",
    "CREATE TRIGGER embeddings_log AFTER INSERT OR DELETE OR UPDATE ON embeddings "
    "FOR EACH ROW EXECUTE FUNCTION embeddings_log()",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


def quote_literal(text: str) -> str:
    """``text`` as an SQL string literal (for DDL, where parameters cannot be bound)."""
    return "'" + text.replace("'", "''") + "'"


def model_index_name(tag: str) -> str:
    return "embeddings_hnsw_" + hashlib.sha256(tag.encode()).hexdigest()[:16]


def model_index_sql(tag: str, dim: int, m: int, ef_construction: int) -> str:
    """The partial expression HNSW index of one model's embeddings."""
    return (
        f"CREATE INDEX IF NOT EXISTS {model_index_name(tag)} ON embeddings USING hnsw "
        f"((embedding::vector({int(dim)})) vector_ip_ops) WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
        f"WHERE model = {quote_literal(tag)}"
    )
