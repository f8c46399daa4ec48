"""Opening the store: the engine (SQLite in the data dir by default, any SQLAlchemy
URL such as postgresql+psycopg://… otherwise), the schema brought to Alembic's head,
`Store.transaction()`, the way code writes rows (and reads what it then writes), and
`Store.read()`, for answers that only read.

On SQLite, a write transaction takes the database's one write lock as it begins;
a read transaction takes none: in WAL mode it reads the last committed snapshot
while a writer goes on, so a DescribeCluster never queues behind a long write.
"""

from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'elmr.db'}"


def _configure_sqlite(engine: Engine, begin) -> None:
    """WAL (readers and the writer do not block each other), and `begin` as the way
    this engine's transactions start."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Where SQLAlchemy begins a transaction (the dialect's hook, a no-op for pysqlite).
    # A "begin" event listener would do the same, but any connection event makes
    # SQLAlchemy dispatch events around every statement: ~80 µs more per transaction.
    engine.dialect.do_begin = begin


def _begin_immediate(dbapi_connection) -> None:
    """SQLite allows one writer. Taking the write lock when a transaction begins makes
    a concurrent writer wait on busy_timeout instead of failing half-way with
    'database is locked' when it upgrades a read to a write."""
    dbapi_connection.execute("BEGIN IMMEDIATE")


def _begin_deferred(dbapi_connection) -> None:
    """A read transaction: its snapshot is taken at its first read, and no lock that
    a writer waits for is ever held (WAL)."""
    dbapi_connection.execute("BEGIN")


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url, future=True)
        self.read_engine = self.engine  # PostgreSQL's reads never wait for writers
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine, _begin_immediate)
            self.read_engine = create_engine(url, future=True)
            _configure_sqlite(self.read_engine, _begin_deferred)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> "Store":
        store = cls(url)
        upgrade_schema(store.engine)
        return store

    @contextmanager
    def transaction(self):
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self):
        """A read-only unit of work on one consistent snapshot, waiting for no writer.
        Writing in it is a bug (on SQLite it could fail with 'database is locked')."""
        with self._read_sessions() as session:
            yield session  # closing the session rolls back: nothing of it is committed

    @contextmanager
    def core_transaction(self):
        """A Connection in one transaction, for Core statements on hot paths: no ORM
        Session around it."""
        with self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


__all__ = ["Store", "Session", "sqlite_url", "upgrade_schema"]
