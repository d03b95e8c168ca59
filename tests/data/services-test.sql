-- Test-only data for tests/integration/test_services.py: proves that a
-- private MariaDB accepts a schema and returns what was stored.
CREATE TABLE mailbox (
	id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	address VARCHAR(255) NOT NULL UNIQUE,
	quota_mb INT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO mailbox (address, quota_mb) VALUES
	('alice@example.test', 100),
	('bob@example.test', 250),
	('zoë@example.test', 0);
