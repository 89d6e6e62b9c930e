-- The local stack's databases beside `strangler` (state: outbox, leases, route state):
-- feature tables and Airflow's metadata.
CREATE DATABASE features OWNER strangler;
CREATE DATABASE airflow OWNER strangler;
