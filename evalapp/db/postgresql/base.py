"""Django's PostgreSQL backend, with batches that fit server-side parameter binding.

With server-side binding (which lets psycopg prepare statements, see settings), one statement
takes at most 65,535 parameters. Django's PostgreSQL backend never splits a bulk insert or a
cascade delete, since with client-side binding there is no such limit; this backend splits them
so that each batch stays under it.

Its flush may empty the audit log, which otherwise refuses TRUNCATE (annotation migration
0048), only where settings.AUDIT_LOG_FLUSHABLE says so (the test suite): it turns the
database's triggers off for its own transaction, as a superuser can (and only a superuser).
"""

from django.conf import settings
from django.db.backends.postgresql import base, operations

MAX_PARAMETERS = 65535


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        if self.connection.settings_dict["OPTIONS"].get("server_side_binding"):
            return max(1, min(len(objs), MAX_PARAMETERS // max(1, len(fields))))
        return super().bulk_batch_size(fields, objs)

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if statements and settings.AUDIT_LOG_FLUSHABLE:
            # For this transaction only (flush runs its statements in one). The audit log's
            # trigger then does not fire; this needs a superuser, which a test database has.
            statements.insert(0, "SET LOCAL session_replication_role = replica")
        return statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
