"""Alembic environment: migrations run on the connection `Store` hands over in
`config.attributes['connection']` (see elmr/store/db.py), or on -x url=… from the
alembic command line when a developer writes a new revision."""

from alembic import context
from sqlalchemy import create_engine

from elmr.store.models import Base
import elmr.store.object_models  # noqa: F401  (its tables join Base.metadata)
import elmr.store.market_models  # noqa: F401  (likewise)
import elmr.store.metric_models  # noqa: F401  (likewise)

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",  # SQLite can't ALTER much
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
