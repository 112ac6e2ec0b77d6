-- The key store lives in a database of its own (OVENAI_KEYSTORE_URL must differ from
-- DATABASE_URL); the entrypoint runs this once, when the volume is new.
CREATE DATABASE ovenai_keys;
