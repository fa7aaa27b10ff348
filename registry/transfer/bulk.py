"""Writing many rows at once (a bulk import): one executemany, cheap on SQLite.

An import checks every row first and then writes them all in one transaction; these
helpers make that write cost what the database needs and little more.
"""
from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event, insert

from ..core.database import staged_inserting
from ..extensions import db


def insert_many(table, keys: tuple[str, ...], rows: list[tuple], fixed: dict | None = None) -> None:
    """Insert ``rows`` (tuples of the values of ``keys``, each row also given the
    ``fixed`` values) into ``table``. On SQLite the rows go to the driver converted by
    the columns' own bind processors (those of the dialect's types, so a date or a
    timestamp is stored exactly as the ORM stores it) and are written by
    ``staged_insert``: Core's per-row parameter handling costs about three times the
    insert itself at 40,000 rows. Elsewhere Core batches them (insertmanyvalues).

    A fixed NULL is left out of the statement (the column's NULL, when it has no server
    default)."""
    with inserting_many(table, keys, rows, fixed, meanwhile=False):
        pass


@contextmanager
def inserting_many(table, keys: tuple[str, ...], rows: list[tuple], fixed: dict | None = None, *,
                   meanwhile: bool = True, then=None):
    """``insert_many``; on SQLite the rows are copied into ``table`` while the ``with``
    block runs (``core.database.staged_inserting``: the block may do Python work, not use
    the database). Elsewhere the rows are inserted before the block. ``then``: a function
    of the connection run after the rows are in (on SQLite on the same worker thread, while
    the block runs); the list the ``with`` yields holds its result when the block ends."""
    fixed = fixed or {}
    conn = db.session.connection()
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [{**fixed, **dict(zip(keys, row))} for row in rows])
        yield [then(conn)] if then is not None else []
        return
    params = _driver_rows(conn, table, keys, rows)
    with staged_inserting(conn, table, keys, params, _bound(table, fixed), meanwhile=meanwhile, then=then) as done:
        yield done


def _bound(table, fixed: dict) -> dict:
    """The fixed values the statement binds: a NULL only where the column has a server default."""
    return {name: value for name, value in fixed.items() if value is not None or table.c[name].server_default is not None}


def _driver_rows(conn, table, keys: tuple[str, ...], rows: list[tuple]) -> list[tuple]:
    """SQLite: ``rows`` as the driver takes them, converted by the columns' bind processors."""
    dialect = conn.dialect
    convert = [(i, f) for i, name in enumerate(keys)
               if (f := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))]
    if convert and rows:
        # column by column: each converter mapped over its column; the dates of a ledger
        # recur (a few hundred days), each converted once
        columns = list(zip(*rows))
        for i, f in convert:
            values = columns[i]
            days = set(values) if values[0].__class__ is date else ()
            if days and len(days) * 2 < len(values) and all(day.__class__ is date for day in days):
                columns[i] = map({day: f(day) for day in days}.__getitem__, values)
            else:
                columns[i] = map(f, values)
        params = list(zip(*columns))
    else:
        params = rows
    return params


class StreamedCopy:
    """SQLite: rows copied into ``table`` chunk by chunk on a worker thread while the caller
    goes on with Python work (an import checking its later rows): each chunk given to
    ``add`` is converted and written by ``staged_inserting``, in the order given, on the
    caller's connection ``conn`` (and each function given to ``call`` run in its turn). The caller may still use the connection meanwhile: a
    statement it runs first waits until every chunk given so far is in (the connection
    runs one statement at a time). ``close`` waits for the last chunk, runs ``then`` (a
    function of the connection) after it on the worker, and raises the worker's error, if
    any; ``close(abandon=True)`` skips ``then``, for a caller that rolls back."""

    def __init__(self, conn, table, keys: tuple[str, ...], fixed: dict) -> None:
        self.conn, self.table, self.keys, self.fixed = conn, table, keys, _bound(table, fixed)
        self.chunks: queue.Queue = queue.Queue()
        self.failed: list[BaseException] = []
        self.result: list = []
        self.closed = False
        self.worker = threading.Thread(target=self._run, name="streamed-copy", daemon=True)
        event.listen(conn, "before_cursor_execute", self._wait_unless_worker)
        self.worker.start()

    def add(self, rows: list[tuple]) -> None:
        if rows:
            self.chunks.put(rows)

    def call(self, work) -> None:
        """Run ``work`` (a function of the connection) on the worker after the chunks given so far."""
        self.chunks.put(work)

    def _run(self) -> None:
        conn = self.conn
        while True:
            chunk = self.chunks.get()
            try:
                if chunk is None:
                    return
                if self.failed:
                    continue  # the rest is not written: the caller raises the first error and rolls back
                if callable(chunk):
                    chunk(conn)
                else:
                    with staged_inserting(conn, self.table, self.keys, _driver_rows(conn, self.table, self.keys, chunk),
                                          self.fixed, meanwhile=False):
                        pass
            except BaseException as error:  # handed to the caller at close  # noqa: BLE001
                self.failed.append(error)
            finally:
                self.chunks.task_done()

    def _wait_unless_worker(self, *args) -> None:
        if threading.current_thread() is not self.worker:
            self.chunks.join()

    def close(self, then=None, *, abandon: bool = False):
        """Wait for every chunk (and ``then``'s result, returned); raise the worker's error."""
        if self.closed:
            return None
        self.closed = True
        event.remove(self.conn, "before_cursor_execute", self._wait_unless_worker)
        if then is not None and not abandon:
            self.chunks.put(lambda conn: self.result.append(then(conn)))
        self.chunks.put(None)
        self.worker.join()
        if self.failed and not abandon:
            raise self.failed[0]
        return self.result[0] if self.result else None
