-- Sample content for tests and first steps; load after schema.sql and
-- mailroom-extras.sql.  The same content exists as LDAP in
-- schema/sample.ldif.  Passwords equal the local part ("demo" for
-- demo@example.test, "alice" for alice@example.test, ...).
--
--   example.test    active domain with the mailboxes below
--   disabled.test   domain with active = 0 (and one mailbox in it)
--   catchall.test   domain whose catch-all '@catchall.test' goes to info@
--   alias.test      alias domain: anything@alias.test is anything@example.test
--
-- Mailbox quotas are in bytes (1 GiB for demo, 100 MiB for alice).
-- Loading the file again replaces these rows and leaves others alone.

SET NAMES utf8mb4;

REPLACE INTO `domain` (`domain`, `description`, `aliases`, `mailboxes`, `maxquota`,
                       `quota`, `transport`, `backupmx`, `created`, `modified`, `active`) VALUES
  ('example.test',  'Example company', 0, 0, 2048, 10240, 'virtual', 0, NOW(), NOW(), 1),
  ('disabled.test', 'Suspended customer', 0, 0, 0, 0, 'virtual', 0, NOW(), NOW(), 0),
  ('catchall.test', 'Domain with a catch-all', 0, 0, 0, 0, 'virtual', 0, NOW(), NOW(), 1),
  ('alias.test',    'Second name of example.test', 0, 0, 0, 0, 'virtual', 0, NOW(), NOW(), 1);

REPLACE INTO `alias_domain` (`alias_domain`, `target_domain`, `created`, `modified`, `active`) VALUES
  ('alias.test', 'example.test', NOW(), NOW(), 1);

-- demo: SHA512-CRYPT, made with `openssl passwd -6 -salt somesalt demo`.
-- alice: SHA256-CRYPT, made with `openssl passwd -5 -salt alicesalt alice`.
-- bob: disabled mailbox.  carol: IMAP refused, everything else allowed.
-- dave: active mailbox in the disabled domain.  info: catch-all target.
REPLACE INTO `mailbox` (`username`, `password`, `name`, `maildir`, `quota`, `local_part`,
                        `domain`, `created`, `modified`, `active`,
                        `smtp_active`, `enable_imap`, `enable_pop3`, `enable_deliver`) VALUES
  ('demo@example.test',
   '{SHA512-CRYPT}$6$somesalt$l6il3Z0LAuJw0uZ9wtDO09r/CtNOKdJhibqGIFELHpJD3J8msnsmPRzaWi6KjzgM7bTH12YS5FK.DmBoSgWE00',
   'Demo User', 'example.test/demo/', 1073741824, 'demo', 'example.test', NOW(), NOW(), 1,
   1, 1, 1, 1),
  ('alice@example.test',
   '{SHA256-CRYPT}$5$alicesalt$6NhQaDX2VGVQ1p9YAuV.5JsCCJvdV6tNnXbXMVi.PSD',
   'Alice Example', 'example.test/alice/', 104857600, 'alice', 'example.test', NOW(), NOW(), 1,
   1, 1, 1, 1),
  ('bob@example.test',
   '{SHA512-CRYPT}$6$bobsalt$xu.1ughdxrafa4reP2xI6UsxRd4TIV5NpAf2wc.ufw7NEJYa9oLR9boCQszMsLXUAgFGAkBL8ISKiaLeh/c9S.',
   'Bob Gone', 'example.test/bob/', 0, 'bob', 'example.test', NOW(), NOW(), 0,
   1, 1, 1, 1),
  ('carol@example.test',
   '{SHA512-CRYPT}$6$carolsalt$S9aE7HfyedZoBIjNKwKUdN09wIFVWr8Z/OOTvAEdGXRMuGqovPDmA9ecLYltA.LoEeT3QWfmhlt1JkNaZ.rMw/',
   'Carol POP-only', 'example.test/carol/', 0, 'carol', 'example.test', NOW(), NOW(), 1,
   1, 0, 1, 1),
  ('dave@disabled.test',
   '{SHA512-CRYPT}$6$davesalt$XcCbH6il0ks2tuKrqD0NxUAkE/HzPlOGc5GIn9ieCVBaMxHPqIv4tdRghRp99ydVCl5hbV3JhDBOr4OIP5Toy1',
   'Dave Suspended', 'disabled.test/dave/', 0, 'dave', 'disabled.test', NOW(), NOW(), 1,
   1, 1, 1, 1),
  ('info@catchall.test',
   '{SHA512-CRYPT}$6$infosalt$JZkoy6FD63DFidvSnbEOAUFhHO7GbxtovgWKQ5UtTC5k3fo7341NYPjdOZIw0vSN645XjxHBgJYNXzjXrLdU90',
   'Catch-all Inbox', 'catchall.test/info/', 0, 'info', 'catchall.test', NOW(), NOW(), 1,
   1, 1, 1, 1);

-- Each mailbox has its own alias row, as PostfixAdmin writes it.  bob's
-- stays active although his mailbox is not: PostfixAdmin leaves it so, and
-- lookups must check mailbox.active.  alice forwards a copy to a remote
-- address and keeps one (her own address is among the targets).
REPLACE INTO `alias` (`address`, `goto`, `domain`, `created`, `modified`, `active`) VALUES
  ('demo@example.test',  'demo@example.test',  'example.test',  NOW(), NOW(), 1),
  ('alice@example.test', 'alice@example.test,alice@remote.invalid', 'example.test', NOW(), NOW(), 1),
  ('bob@example.test',   'bob@example.test',   'example.test',  NOW(), NOW(), 1),
  ('carol@example.test', 'carol@example.test', 'example.test',  NOW(), NOW(), 1),
  ('dave@disabled.test', 'dave@disabled.test', 'disabled.test', NOW(), NOW(), 1),
  ('info@catchall.test', 'info@catchall.test', 'catchall.test', NOW(), NOW(), 1),
  ('postmaster@example.test', 'demo@example.test', 'example.test', NOW(), NOW(), 1),
  ('demo.user@example.test', 'demo@example.test', 'example.test', NOW(), NOW(), 1),
  ('sales@example.test', 'partner@remote.invalid', 'example.test', NOW(), NOW(), 1),
  ('team@example.test',  'demo@example.test,alice@example.test', 'example.test', NOW(), NOW(), 1),
  ('old@example.test',   'demo@example.test', 'example.test', NOW(), NOW(), 0),
  ('@catchall.test',     'info@catchall.test', 'catchall.test', NOW(), NOW(), 1),
  -- A chain three deep ending in a mailbox, and a loop, for the resolver's
  -- depth limit and loop detection.
  ('chain-a@example.test', 'chain-b@example.test', 'example.test', NOW(), NOW(), 1),
  ('chain-b@example.test', 'chain-c@example.test', 'example.test', NOW(), NOW(), 1),
  ('chain-c@example.test', 'demo@example.test',    'example.test', NOW(), NOW(), 1),
  ('loop-a@example.test',  'loop-b@example.test',  'example.test', NOW(), NOW(), 1),
  ('loop-b@example.test',  'loop-a@example.test',  'example.test', NOW(), NOW(), 1);

-- demo may also send as anyone at catchall.test; alice as sales@.
REPLACE INTO `sender_acl` (`login`, `sender`, `created`, `active`) VALUES
  ('demo@example.test',  '@catchall.test',     NOW(), 1),
  ('alice@example.test', 'sales@example.test', NOW(), 1);
