"""Alembic environment and versions for every table of DESIGN §5; applied by `pipeline migrate`."""
