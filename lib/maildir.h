#ifndef MR_MAILDIR_H
#define MR_MAILDIR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct buf;

/* Maildir++ primitives: the storage contract between the MTA (which
 * delivers) and the mailbox server. Only NFS-safe operations are used:
 * O_EXCL creates, rename(), link()-based dotlocks. Everything here blocks
 * on the file system, so callers run it off the event loop. */

/* System flags, by their letters in the ":2," suffix. */
enum maildir_flag {
	MAILDIR_FLAG_DRAFT = 1 << 0,    /* D */
	MAILDIR_FLAG_FLAGGED = 1 << 1,  /* F */
	MAILDIR_FLAG_PASSED = 1 << 2,   /* P (forwarded) */
	MAILDIR_FLAG_REPLIED = 1 << 3,  /* R (answered) */
	MAILDIR_FLAG_SEEN = 1 << 4,     /* S */
	MAILDIR_FLAG_TRASHED = 1 << 5,  /* T (deleted) */
};

/* A message's flags: system flags and keywords a-z (bit 0 = 'a'), whose
 * names are in dovecot-keywords. */
struct maildir_flags {
	unsigned int flags;
	uint32_t keywords;
};

/* What a file name says about its message. */
struct maildir_name {
	size_t base_len;	/* the unique part: everything before ':' */
	bool has_size, has_vsize, has_info;
	uint64_t size;		/* ,S= : bytes on disk */
	uint64_t vsize;		/* ,W= : bytes with CRLF line ends */
	struct maildir_flags flags;
};

#define MAILDIR_NAME_MAX 255

/* Create a Maildir (cur/ new/ tmp/, mode 0700); an existing one is fine. */
int maildir_create(const char *path, const char **error_r);
/* Create the Maildir++ folder root/.name with its maildirfolder file.
 * name is one level ("Sent") or dotted ("Archive.2024"); names with '/',
 * a leading or doubled '.', or control bytes are refused. */
int maildir_folder_create(const char *root, const char *name, const char **error_r);
/* 1 when name can be a folder name (see above), 0 when not. */
int maildir_folder_name_valid(const char *name);

/* A new unique base name: <time>.M<usec>P<pid>Q<n>.<host> with host
 * sanitised as Dovecot does ('/' -> \057, ':' -> \072). */
void maildir_name_unique(struct buf *out);
/* Append a host name with '/' and ':' escaped. */
void maildir_host_escape(struct buf *out, const char *host);
/* Parse a file name (without directory). 0 ok, -1 not a message name
 * (empty, a dot file, '/' inside, bad ,S= or ,W=). */
int maildir_name_parse(const char *name, struct maildir_name *r);
/* Append ":2," and the flags in ASCII order (system, then keywords). */
void maildir_flags_format(struct buf *out, const struct maildir_flags *flags);
/* Parse flag letters; unknown letters are ignored (and kept by rename). */
void maildir_flags_parse(const char *letters, struct maildir_flags *r);

/* Give the message at <maildir>/<subdir_name> ("new/x" or "cur/x:2,S")
 * the flags, moving it into cur/. 1: done, *new_name_r = "cur/...";
 * 0: the file is gone (expunged or renamed by someone else: rescan);
 * -1: error. */
int maildir_set_flags(const char *maildir, const char *subdir_name,
		      const struct maildir_flags *flags, char **new_name_r,
		      const char **error_r);
/* Move a message from new/ to cur/ keeping its flags; same results. */
int maildir_move_to_cur(const char *maildir, const char *subdir_name,
			char **new_name_r, const char **error_r);

/* Delivery: tmp/ -> write -> fsync -> rename into new/ (or cur/ with
 * flags) -> fsync the directory. After a successful finish the message is
 * on stable storage; on any failure nothing is left behind. */
struct maildir_save {
	bool to_cur;			/* into cur/ with flags, not new/ */
	struct maildir_flags flags;
	time_t mtime;			/* the file's mtime (IMAP INTERNALDATE); 0: now */
};

struct maildir_writer;

int maildir_writer_open(const char *maildir, struct maildir_writer **w_r,
			const char **error_r);
int maildir_writer_write(struct maildir_writer *w, const void *data, size_t len,
			 const char **error_r);
/* save may be NULL (new/, no flags). *name_r ("new/..." or "cur/...")
 * lives as long as the writer. */
int maildir_writer_finish(struct maildir_writer *w, const struct maildir_save *save,
			  const char **name_r, const char **error_r);
/* True when a failure was ENOSPC or EDQUOT: a temporary condition the MTA
 * answers with 452 4.3.1. */
bool maildir_writer_no_space(const struct maildir_writer *w);
/* Free; an unfinished message's tmp/ file is removed. */
void maildir_writer_free(struct maildir_writer **w);

/* The whole message from one buffer. *name_r is allocated. */
int maildir_deliver(const char *maildir, const void *data, size_t len,
		    const struct maildir_save *save, char **name_r, bool *no_space_r,
		    const char **error_r);

/* Copy the message file src (a path) into maildir under a new unique base
 * name, as a hard link made in tmp/ and renamed into place (cur/ with
 * save's flags, or new/), falling back to copying the bytes where links
 * do not work (another file system, EPERM, EMLINK). The copy keeps src's
 * mtime; it is durable (file and directory fsync'd) on return.
 * 1: done, *name_r ("cur/..." or "new/...", allocated);
 * 0: src is gone (expunged meanwhile); -1: error. */
int maildir_copy(const char *src, const char *maildir, const struct maildir_save *save,
		 char **name_r, bool *no_space_r, const char **error_r);

/* dovecot-keywords: keyword index (0-25, 'a'-'z') -> name. */
#define MAILDIR_KEYWORDS_MAX 26
#define MAILDIR_KEYWORD_NAME_MAX 1024

struct maildir_keywords {
	char *names[MAILDIR_KEYWORDS_MAX];
};

void maildir_keywords_init(struct maildir_keywords *kw);
void maildir_keywords_free(struct maildir_keywords *kw);
/* Parse "<index> <name>" lines; malformed ones are skipped. Returns the
 * number of lines skipped. */
unsigned int maildir_keywords_parse(struct maildir_keywords *kw, const char *data, size_t len);
/* 1: read, 0: no file (kw empty), -1: error. */
int maildir_keywords_read(const char *maildir, struct maildir_keywords *kw,
			  const char **error_r);
/* Index of name, -1 when absent. */
int maildir_keywords_lookup(const struct maildir_keywords *kw, const char *name);
/* The index of name, adding it to the file when new: under
 * dovecot-keywords.lock, re-read, add, write by rename, so two writers
 * never give one letter two meanings. kw is refreshed. 1: *index_r set,
 * 0: all 26 letters are taken, -1: error. */
int maildir_keywords_assign(const char *maildir, const char *name,
			    struct maildir_keywords *kw, int *index_r, const char **error_r);

/* Write data to <maildir>/<name> through a unique name in tmp/, fsync and
 * rename() over: readers see the old or the new file, never a mix. */
int maildir_file_replace(const char *maildir, const char *name, const void *data, size_t len,
			 const char **error_r);
/* Read a whole file into out (appended, bounded by out's limit). 1: read,
 * 0: no such file, -1: error (also when larger than the limit). */
int maildir_file_read(const char *path, struct buf *out, const char **error_r);
/* fsync a directory so a rename in it is durable. */
int maildir_fsync_dir(const char *dir, const char **error_r);

#endif
