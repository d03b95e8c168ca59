-- Mailroom's additions to a PostfixAdmin database.
--
-- Load after schema.sql, or straight into a database that PostfixAdmin
-- created.  Everything here only adds (columns with defaults that keep
-- today's behaviour, a new table, new indexes), so PostfixAdmin keeps
-- working and this file can be loaded again at any time.
--
-- Per-service flags on mailbox (1 = allowed, 0 = refused):
--   smtp_active     may log in to submit mail (587/465).  PostfixAdmin
--                   added this very column itself (its $CONF['smtp_active_flag']);
--                   it is created here for older PostfixAdmin databases,
--                   with the same meaning, so its edit form drives it.
--   enable_imap     may log in over IMAP
--   enable_pop3     may log in over POP3
--   enable_deliver  receives mail into its Maildir; 0 makes a send-only
--                   mailbox whose address is refused at RCPT time
-- mailbox.active = 0 still turns everything off; these only narrow it.

SET NAMES utf8mb4;

ALTER TABLE `mailbox`
  ADD COLUMN IF NOT EXISTS `smtp_active` tinyint(1) NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS `enable_imap` tinyint(1) NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS `enable_pop3` tinyint(1) NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS `enable_deliver` tinyint(1) NOT NULL DEFAULT 1;

-- Explicit send-as grants, on top of what the alias table already implies
-- (a login may send as any alias whose goto names it).  sender is either a
-- full address or '@domain' for every address of that domain.
CREATE TABLE IF NOT EXISTS `sender_acl` (
  `login` varchar(255) NOT NULL,
  `sender` varchar(255) NOT NULL,
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (`login`, `sender`),
  KEY `mailroom_sender` (`sender`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Mailroom - send-as grants';

-- Point lookups all use primary keys.  These serve the per-domain
-- questions ("mailboxes and aliases of this domain", used when a domain is
-- checked, listed or removed) without a full scan; the names stay clear of
-- PostfixAdmin's own `domain` indexes.
CREATE INDEX IF NOT EXISTS `mailroom_domain_active` ON `mailbox` (`domain`, `active`);
CREATE INDEX IF NOT EXISTS `mailroom_domain_active` ON `alias` (`domain`, `active`);
