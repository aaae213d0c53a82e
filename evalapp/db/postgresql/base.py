"""Django's PostgreSQL backend, with batches that fit server-side parameter binding.

With server-side binding (which lets psycopg prepare statements, see settings), one statement
takes at most 65,535 parameters. Django's PostgreSQL backend never splits a bulk insert or a
cascade delete, since with client-side binding there is no such limit; this backend splits them
so that each batch stays under it.
"""

from django.db.backends.postgresql import base, operations

MAX_PARAMETERS = 65535


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        if self.connection.settings_dict["OPTIONS"].get("server_side_binding"):
            return max(1, min(len(objs), MAX_PARAMETERS // max(1, len(fields))))
        return super().bulk_batch_size(fields, objs)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
