"""store: the single source of truth (SQLAlchemy; SQLite by default, PostgreSQL by URL).
Every state change is one transaction; nothing lives only in memory."""
