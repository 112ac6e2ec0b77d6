"""Database URLs as libpq takes them (``ovenai.engines.conninfo``): one host or several."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from ovenai.engines import conninfo


def test_one_host_keeps_every_part_of_the_url() -> None:
    info = conninfo("postgresql://ovenai:p%40ss@127.0.0.1:6432/leads?sslmode=require")
    assert conninfo_to_dict(info) == {
        "host": "127.0.0.1",
        "port": "6432",
        "user": "ovenai",
        "password": "p@ss",
        "dbname": "leads",
        "sslmode": "require",
    }


def test_several_hosts_become_libpq_lists_with_the_session_attribute() -> None:
    url = (
        "postgresql+psycopg://postgres@/ovenai?host=127.0.0.1:5432&host=127.0.0.2:5433"
        "&target_session_attrs=read-write"
    )
    assert conninfo_to_dict(conninfo(url, connect_timeout="5")) == {
        "host": "127.0.0.1,127.0.0.2",
        "port": "5432,5433",
        "user": "postgres",
        "dbname": "ovenai",
        "target_session_attrs": "read-write",
        "connect_timeout": "5",
    }


def test_the_url_wins_over_a_default_given_beside_it() -> None:
    info = conninfo("postgresql://u@127.0.0.1/d?connect_timeout=20", connect_timeout="5")
    assert conninfo_to_dict(info)["connect_timeout"] == "20"
