#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap-args.h"
#include "mailbox.h"
#include "maildir-uidlist.h"
#include "xalloc.h"
#include "test.h"

/* Several processes on one mailbox at once, as several mbs processes and
 * the mta are: each worker appends, syncs, stores and expunges, a
 * deliverer writes into new/ with lib/maildir_deliver. Afterwards: UIDs
 * unique and ascending, uidnext never went back in any view, every message
 * appended or delivered and not expunged is there exactly once, each with
 * the flags its last STORE gave it, and no message was \Recent in two
 * views.
 *
 * Flags are owned so that "last" is well defined although all workers
 * change the same messages at once: worker k alone touches its system
 * flag and its keyword "w<k>", on any message; so a flag change lost to a
 * concurrent rename by another worker shows. */

#define WORKERS 4
#define ROUNDS 40
#define DELIVERIES 40

static char test_dir[] = "/tmp/test-mailbox-conc.XXXXXX";
static const unsigned worker_flag[WORKERS] = {
	IMAP_FLAG_SEEN, IMAP_FLAG_FLAGGED, IMAP_FLAG_ANSWERED, IMAP_FLAG_DRAFT
};

struct intent {
	uint32_t uid;
	bool on;
};

static int worker(struct mbox_user *u, int k, const char *log)
{
	FILE *out = fopen(log, "w");
	struct mbox *box;
	struct intent *intents = NULL;
	size_t nintents = 0;
	uint32_t last_uidnext = 0, mine[ROUNDS];
	size_t nmine = 0;
	char kw[16];
	const char *kws[1] = { kw }, *error;
	unsigned seed = (unsigned)getpid();
	int failures = 0;

	snprintf(kw, sizeof(kw), "w%d", k);
	if (out == NULL || mbox_open(u, "INBOX", false, &box, &error) <= 0)
		return 10;
	for (int i = 0; i < ROUNDS; i++) {
		struct mbox_append a = { 0, NULL, 0, 0 };
		struct mbox_changes ch;
		uint32_t validity, uid;
		char text[80];

		snprintf(text, sizeof(text), "Subject: w%d-%d\n\nworker %d round %d\n", k, i, k, i);
		if (mbox_append(u, "INBOX", text, strlen(text), &a, &validity, &uid, &error) != 1 ||
		    uid == 0) {
			fprintf(out, "# append failed: %s\n", error);
			failures++;
			continue;
		}
		fprintf(out, "A %u w%d-%d\n", uid, k, i);
		mine[nmine++] = uid;
		if (mbox_sync(box, rand_r(&seed) % 3 != 0, &ch, &error) < 0) {
			fprintf(out, "# sync failed: %s\n", error);
			failures++;
			continue;
		}
		mbox_changes_free(&ch);
		for (size_t j = 1; j < box->count; j++) {
			if (box->msgs[j].uid <= box->msgs[j - 1].uid)
				failures++, fprintf(out, "# view UIDs not ascending\n");
		}
		if (box->uidnext < last_uidnext)
			failures++, fprintf(out, "# uidnext went back\n");
		last_uidnext = box->uidnext;
		for (size_t j = 0; j < box->count; j++) {
			if (box->msgs[j].recent) {
				fprintf(out, "R %u\n", box->msgs[j].uid);
				box->msgs[j].recent = false;	/* logged once */
			}
		}
		/* Our flag and keyword on or off on a message of anyone. */
		if (box->count > 0) {
			size_t idx = (size_t)rand_r(&seed) % box->count;
			bool on = rand_r(&seed) % 2 == 0;

			if (!box->msgs[idx].expunged) {
				uint32_t target = box->msgs[idx].uid;

				if (mbox_store(box, &idx, 1, on ? MBOX_STORE_ADD : MBOX_STORE_REMOVE,
					       worker_flag[k], kws, 1, &error) != 1) {
					fprintf(out, "# store failed: %s\n", error);
					failures++;
				} else {
					intents = xreallocarray(intents, nintents + 1, sizeof(*intents));
					intents[nintents].uid = target;
					intents[nintents++].on = on;
				}
			}
		}
		/* Now and then one of ours goes: \Deleted, then EXPUNGE. */
		if (i % 5 == 4 && nmine > 0) {
			uint32_t victim = mine[(size_t)rand_r(&seed) % nmine];

			if (mbox_sync(box, true, NULL, &error) < 0)
				failures++;
			for (size_t j = 0; j < box->count; j++) {
				if (box->msgs[j].uid != victim)
					continue;
				if (mbox_store(box, &j, 1, MBOX_STORE_ADD, IMAP_FLAG_DELETED, NULL, 0,
					       &error) != 1 ||
				    mbox_expunge(box, NULL, 0, &ch, &error) != 1) {
					fprintf(out, "# expunge failed: %s\n", error);
					failures++;
				} else {
					fprintf(out, "D %u\n", victim);
					mbox_changes_free(&ch);
				}
				break;
			}
		}
	}
	/* The last intent per message is what must be on disk. */
	for (size_t j = 0; j < nintents; j++) {
		bool last = true;

		for (size_t l = j + 1; l < nintents && last; l++)
			last = intents[l].uid != intents[j].uid;
		if (last)
			fprintf(out, "F %u %d\n", intents[j].uid, intents[j].on ? 1 : 0);
	}
	free(intents);
	mbox_close(&box);
	fclose(out);
	return failures == 0 ? 0 : 1;
}

static int deliverer(const char *maildir, const char *log)
{
	FILE *out = fopen(log, "w");
	const char *error;

	if (out == NULL)
		return 10;
	for (int i = 0; i < DELIVERIES; i++) {
		char text[64], *name;
		bool no_space;
		struct timespec ts = { 0, 2 * 1000 * 1000 };

		snprintf(text, sizeof(text), "Subject: d%d\n\ndelivered %d\n", i, i);
		if (maildir_deliver(maildir, text, strlen(text), NULL, &name, &no_space, &error) < 0)
			return 1;
		fprintf(out, "N %.*s\n", (int)strcspn(name + 4, ":"), name + 4);
		free(name);
		nanosleep(&ts, NULL);
	}
	fclose(out);
	return 0;
}

/* What the logs promise, checked against the store. */
struct expect {
	uint32_t uid;
	char tag[16];
	bool deleted;
	int flag[WORKERS];    /* -1 unknown, 0 off, 1 on */
	int recent_views;
};

static struct expect *expect_find(struct expect *e, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].uid == uid)
			return &e[i];
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct mbox_user u = { NULL, { 0, 0 } };
	char *logs[WORKERS + 1], *delivered[DELIVERIES];
	struct expect *ex = NULL;
	size_t nex = 0, ndelivered = 0;
	pid_t pids[WORKERS + 1];
	struct mbox *box;
	const char *error;
	int status, dup_uid = 0, dup_recent = 0;

	u.root = xasprintf("%s/store", test_dir);
	CHECK_INT(maildir_create(u.root, &error), 0);
	for (int k = 0; k <= WORKERS; k++) {
		logs[k] = xasprintf("%s/log%d", test_dir, k);
		pids[k] = fork();
		if (pids[k] == 0) {
			alarm(60);
			_exit(k < WORKERS ? worker(&u, k, logs[k]) : deliverer(u.root, logs[k]));
		}
	}
	for (int k = 0; k <= WORKERS; k++) {
		CHECK(waitpid(pids[k], &status, 0) == pids[k]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* Read the logs. */
	for (int k = 0; k <= WORKERS; k++) {
		FILE *f = fopen(logs[k], "r");
		char line[256];

		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			unsigned uid;
			char tag[64];
			struct expect *e;

			if (line[0] == '#') {
				printf("%s", line);
			} else if (sscanf(line, "A %u %15s", &uid, tag) == 2) {
				if (expect_find(ex, nex, uid) != NULL) {
					dup_uid++;
					continue;
				}
				ex = xreallocarray(ex, nex + 1, sizeof(*ex));
				e = &ex[nex++];
				memset(e, 0, sizeof(*e));
				e->uid = uid;
				memcpy(e->tag, tag, sizeof(e->tag) - 1);
				for (int w = 0; w < WORKERS; w++)
					e->flag[w] = -1;
			} else if (sscanf(line, "N %63s", tag) == 1 && ndelivered < DELIVERIES) {
				delivered[ndelivered++] = xstrdup(tag);
			}
		}
		if (f != NULL)
			fclose(f);
	}
	for (int k = 0; k < WORKERS; k++) {
		FILE *f = fopen(logs[k], "r");
		char line[256];

		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			unsigned uid;
			int on;
			struct expect *e;

			if (sscanf(line, "D %u", &uid) == 1 && (e = expect_find(ex, nex, uid)) != NULL)
				e->deleted = true;
			else if (sscanf(line, "F %u %d", &uid, &on) == 2 &&
				 (e = expect_find(ex, nex, uid)) != NULL)
				e->flag[k] = on;
			else if (sscanf(line, "R %u", &uid) == 1 &&
				 (e = expect_find(ex, nex, uid)) != NULL && ++e->recent_views > 1)
				dup_recent++;
		}
		if (f != NULL)
			fclose(f);
	}
	CHECK_INT(dup_uid, 0);
	CHECK_INT(dup_recent, 0);
	CHECK_INT(nex, WORKERS * ROUNDS);
	CHECK_INT(ndelivered, DELIVERIES);

	CHECK_INT(mbox_open(&u, "INBOX", true, &box, &error), 1);
	/* Every appended message: there once with its tag and last flags, or
	 * expunged by its owner. */
	int missing = 0, resurrected = 0, wrong_flags = 0, wrong_body = 0;
	struct buf body;

	buf_init(&body, 4096);
	for (size_t i = 0; i < nex; i++) {
		size_t idx = (size_t)-1;

		for (size_t j = 0; j < box->count; j++) {
			if (box->msgs[j].uid == ex[i].uid)
				idx = j;
		}
		if (ex[i].deleted) {
			resurrected += idx != (size_t)-1;
			continue;
		}
		if (idx == (size_t)-1) {
			missing++;
			continue;
		}
		buf_reset(&body);
		if (mbox_msg_read(box, idx, &body, &error) != 1 ||
		    strstr(buf_cstr(&body), ex[i].tag) == NULL)
			wrong_body++;
		for (int w = 0; w < WORKERS; w++) {
			char kw[16];
			int letter;
			bool has_kw = false, has_flag = (box->msgs[idx].flags & worker_flag[w]) != 0;

			if (ex[i].flag[w] < 0)
				continue;
			snprintf(kw, sizeof(kw), "w%d", w);
			letter = maildir_keywords_lookup(&box->keywords, kw);
			has_kw = letter >= 0 && (box->msgs[idx].keywords & (1u << letter));
			if (has_flag != (ex[i].flag[w] == 1) || has_kw != (ex[i].flag[w] == 1))
				wrong_flags++;
		}
	}
	buf_free(&body);
	CHECK_INT(missing, 0);
	CHECK_INT(resurrected, 0);
	CHECK_INT(wrong_flags, 0);
	CHECK_INT(wrong_body, 0);
	/* Deliveries: each once (by base name). */
	int not_once = 0;

	for (size_t d = 0; d < ndelivered; d++) {
		int n = 0;

		for (size_t j = 0; j < box->count; j++) {
			const char *name = strchr(box->msgs[j].file, '/') + 1;

			n += strncmp(name, delivered[d], strlen(delivered[d])) == 0;
		}
		not_once += n != 1;
		free(delivered[d]);
	}
	CHECK_INT(not_once, 0);
	/* UIDs ascending in the view and in the file; next UID above all. */
	struct maildir_uidlist list;
	maildir_uidlist_init(&list);
	CHECK_INT(maildir_uidlist_read(u.root, &list, &error), 1);
	CHECK_INT(list.skipped_lines, 0);
	CHECK_INT(list.count, box->count);
	for (size_t j = 1; j < list.count; j++)
		CHECK(list.recs[j].uid > list.recs[j - 1].uid);
	CHECK(list.count == 0 || list.next_uid > list.recs[list.count - 1].uid);
	for (size_t j = 0; j < box->count && j < list.count; j++)
		CHECK_INT(box->msgs[j].uid, list.recs[j].uid);
	maildir_uidlist_free(&list);
	printf("# %zu messages, %zu appended, uidnext %u\n", box->count, nex, box->uidnext);
	mbox_close(&box);
	for (int k = 0; k <= WORKERS; k++)
		free(logs[k]);
	free(ex);
	free(u.root);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("4 workers and a deliverer on one mailbox", test_concurrent);
	return test_done();
}
