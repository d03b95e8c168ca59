-- Mailroom: the four PostfixAdmin tables that mail lookups read.
--
-- Column names and types follow PostfixAdmin's MySQL layout (its
-- upgrade.php, database version 1849), so PostfixAdmin can administer a
-- database created from this file and Mailroom can read a database that
-- PostfixAdmin created.  Mailroom's own additions live in
-- mailroom-extras.sql; load it after this file.
--
-- Units, as PostfixAdmin stores them:
--   mailbox.quota      bytes (PostfixAdmin multiplies the MB in its form
--                      by $CONF['quota_multiplier']); 0 = no limit
--   domain.maxquota    MB, the largest quota one mailbox may get; 0 = no limit
--   domain.quota       MB, the sum of all mailbox quotas; 0 = no limit
--   domain.aliases / domain.mailboxes   counts; 0 = no limit, -1 = none allowed
--
-- Every timestamp defaults to 2000-01-01 like PostfixAdmin's, which keeps
-- NO_ZERO_DATE strict modes happy.  Loading the file twice changes nothing.
--
-- Indexes: every lookup Mailroom makes goes by primary key (mailbox by
-- username, alias by address or '@domain', alias_domain by alias_domain).
-- The `domain` indexes on mailbox and alias are left out on purpose:
-- PostfixAdmin's setup adds them under that very name (upgrade step 655)
-- and would stop on a duplicate.

SET NAMES utf8mb4;

CREATE TABLE IF NOT EXISTS `domain` (
  `domain` varchar(255) NOT NULL,
  `description` varchar(255) NOT NULL DEFAULT '',
  `aliases` int(10) NOT NULL DEFAULT 0,
  `mailboxes` int(10) NOT NULL DEFAULT 0,
  `maxquota` bigint(20) NOT NULL DEFAULT 0,
  `quota` bigint(20) NOT NULL DEFAULT 0,
  `transport` varchar(255) NOT NULL DEFAULT '',
  `backupmx` tinyint(1) NOT NULL DEFAULT 0,
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `modified` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `password_expiry` int(11) DEFAULT 0,
  PRIMARY KEY (`domain`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Virtual Domains';

-- One row per mailbox.  username is the full address and the login;
-- maildir is relative to the mail root, PostfixAdmin style "domain/local/".
CREATE TABLE IF NOT EXISTS `mailbox` (
  `username` varchar(255) NOT NULL,
  `password` varchar(255) NOT NULL,
  `name` varchar(255) NOT NULL DEFAULT '',
  `maildir` varchar(255) NOT NULL,
  `quota` bigint(20) NOT NULL DEFAULT 0,
  `local_part` varchar(255) NOT NULL,
  `domain` varchar(255) NOT NULL,
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `modified` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `phone` varchar(30) NOT NULL DEFAULT '',
  `email_other` varchar(255) NOT NULL DEFAULT '',
  `token` varchar(255) NOT NULL DEFAULT '',
  `token_validity` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `password_expiry` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `totp_secret` varchar(255) DEFAULT NULL,
  PRIMARY KEY (`username`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Virtual Mailboxes';

-- Every deliverable address.  goto is a comma-separated list of targets.
-- PostfixAdmin gives each mailbox a row address = goto = username; a
-- forward that keeps a copy lists the mailbox itself among the targets;
-- address '@domain' is the domain's catch-all.
CREATE TABLE IF NOT EXISTS `alias` (
  `address` varchar(255) NOT NULL,
  `goto` text NOT NULL,
  `domain` varchar(255) NOT NULL,
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `modified` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (`address`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Virtual Aliases';

-- user@alias_domain is delivered as user@target_domain.
CREATE TABLE IF NOT EXISTS `alias_domain` (
  `alias_domain` varchar(255) NOT NULL DEFAULT '',
  `target_domain` varchar(255) NOT NULL DEFAULT '',
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `modified` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (`alias_domain`),
  KEY `active` (`active`),
  KEY `target_domain` (`target_domain`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Domain Aliases';
