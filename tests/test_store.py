"""The schema: Alembic's migrations and the SQLAlchemy models say the same thing."""

from alembic import command
from alembic.config import Config

from elmr.store.db import MIGRATIONS_DIR, Store, sqlite_url


def test_migrations_match_the_models(tmp_path):
    store = Store.open(sqlite_url(tmp_path))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)  # raises if the models have changes no migration holds
    store.close()
