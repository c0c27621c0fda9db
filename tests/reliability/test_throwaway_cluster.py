"""The PostgreSQL fixture itself: a private cluster on 127.0.0.1 that SQLAlchemy can use.

If this fails, every PostgreSQL-parametrized AS test would fail for a reason that has nothing to
do with the AS; this test makes that reason obvious.
"""

from __future__ import annotations

import sqlalchemy
from harness.postgres_cluster import PostgresServer


def test_throwaway_cluster_serves_a_fresh_database_over_loopback(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    try:
        assert url.startswith("postgresql+psycopg://")
        assert "@127.0.0.1:" in url or postgres_server.host != "127.0.0.1"
        engine = sqlalchemy.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE probe (id integer primary key)"))
            conn.execute(sqlalchemy.text("INSERT INTO probe VALUES (1)"))
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT count(*) FROM probe")).scalar_one() == 1
        engine.dispose()
    finally:
        postgres_server.drop_database(url)
