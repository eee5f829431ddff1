"""The library's SQLite schema: one file, ``library.sqlite`` in the faceprint home.

Tables (version 1):

* ``photos`` — one row per distinct image *content* (``sha256`` unique): its size in pixels, how
  many faces the pipeline found, when it was indexed. Two copies of a photo are one row.
* ``paths`` — one row per file seen (``path`` unique): the photo it holds (NULL when it could not
  be read), its byte size and ``mtime_ns`` (an unchanged file is skipped without being read), and
  for a bad file the error code and message (a bad file is not retried until it changes).
  A moved or renamed file is a new path row pointing at the same photo.
* ``clusters`` — the people the library proposes (``name`` NULL) or that the user named
  (``name`` unique). Ids are never reused, so a cluster id printed once stays meaningful.
* ``faces`` — every face of every photo: box, detector score, landmarks (float32 BLOB + scheme),
  embedding (float32 little-endian BLOB, model tag, dim, raw norm), quality (face size in pixels,
  blur), a JPEG thumbnail, its cluster, and ``pinned`` = 1 when the user decided its cluster
  (naming, merging, splitting); automatic clustering never moves a pinned face.
* ``library_meta`` — the pipeline signature and model the library was indexed with.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        "CREATE TABLE library_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE photos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sha256 TEXT NOT NULL UNIQUE,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            n_faces INTEGER NOT NULL,
            indexed REAL NOT NULL)""",
        """CREATE TABLE paths (
            path TEXT PRIMARY KEY,
            photo_id INTEGER REFERENCES photos(id) ON DELETE CASCADE,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            error_code TEXT,
            error TEXT,
            seen REAL NOT NULL)""",
        "CREATE INDEX paths_photo ON paths(photo_id)",
        """CREATE TABLE clusters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT UNIQUE,
            created REAL NOT NULL)""",
        """CREATE TABLE faces (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
            score REAL NOT NULL,
            scheme TEXT,
            landmarks BLOB,
            model TEXT NOT NULL,
            dim INTEGER NOT NULL,
            embedding BLOB NOT NULL,
            norm REAL NOT NULL,
            face_px REAL NOT NULL,
            blur REAL NOT NULL,
            thumb BLOB,
            cluster_id INTEGER REFERENCES clusters(id) ON DELETE SET NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            UNIQUE (photo_id, idx))""",
        "CREATE INDEX faces_cluster ON faces(cluster_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

#: Indexes that only speed queries up (the file's format is unchanged, so they need no schema version
#: and earlier faceprint versions still read the file): created on open when missing.
#: ``faces_labels`` covers the clustering step's read of every face's (id, cluster, pin): without it
#: that read scans the faces' rows with their thumbnails and embeddings (about 3.5 KB each),
#: 30 ms of a 50 ms step at 10,000 faces; with it 9 ms (measured on the full LFW library).
INDEXES: tuple[tuple[str, str], ...] = (
    ("faces_labels", "CREATE INDEX IF NOT EXISTS faces_labels ON faces(model, id, cluster_id, pinned)"),
)
