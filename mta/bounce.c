/* Delivery status notifications (RFC 3464) for recipients that failed
 * permanently: a new queue message from <> to the sender, written durably
 * into active/. Runs on a worker thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "xalloc.h"

/* A full copy of the original is returned up to this size; larger ones
 * (and RET=HDRS) get their header section only. */
#define BOUNCE_FULL_MAX (10 * 1024 * 1024)

static void bounce_date(struct buf *out, const char *name, int64_t when)
{
	char date[64];
	time_t t = (time_t)when;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(out, "%s: %s\r\n", name, date);
}

static bool bounce_wanted(const struct deliver_job *job, const bool *bounced_now, size_t i)
{
	const struct queue_file_rcpt *r = &job->qf.rcpts[i];

	return bounced_now[i] && (r->notify == 0 || (r->notify & QUEUE_NOTIFY_FAILURE) != 0);
}

static void bounce_text(const struct deliver_job *job, const bool *bounced_now,
			struct buf *out, const char *boundary)
{
	const struct queue_settings *set = &job->q->set;

	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", set->hostname);
	buf_printf(out, "To: <%s>\r\n", job->qf.sender);
	buf_append_str(out, "Subject: Undelivered Mail Returned to Sender\r\n");
	bounce_date(out, "Date", job->now);
	buf_printf(out, "Message-ID: <%s.%s@%s>\r\n", job->bounce_id, job->id, set->hostname);
	buf_append_str(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		   "\tboundary=\"%s\"\r\n\r\n", boundary);
	buf_printf(out, "This is a MIME-encapsulated message.\r\n\r\n--%s\r\n", boundary);
	buf_append_str(out, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	buf_printf(out, "This is the mail system at %s.\r\n\r\n"
		   "Your message could not be delivered to one or more recipients.\r\n\r\n",
		   set->hostname);
	for (size_t i = 0; i < job->qf.nrcpts; i++) {
		if (bounce_wanted(job, bounced_now, i))
			buf_printf(out, "<%s>: %s\r\n", job->qf.rcpts[i].addr,
				   job->qf.rcpts[i].diag != NULL ? job->qf.rcpts[i].diag : "");
	}
}

static void bounce_status(const struct deliver_job *job, const bool *bounced_now,
			  struct buf *out, const char *boundary)
{
	buf_printf(out, "\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary);
	buf_printf(out, "Reporting-MTA: dns; %s\r\nX-Mailroom-Queue-ID: %s\r\n",
		   job->q->set.hostname, job->id);
	if (job->qf.envid != NULL)
		buf_printf(out, "Original-Envelope-Id: %s\r\n", job->qf.envid);
	bounce_date(out, "Arrival-Date", job->qf.arrival);
	for (size_t i = 0; i < job->qf.nrcpts; i++) {
		const struct queue_file_rcpt *r = &job->qf.rcpts[i];
		const char *diag = r->diag != NULL ? r->diag : "5.0.0 failed";
		size_t enh_len = strcspn(diag, " ");

		if (!bounce_wanted(job, bounced_now, i))
			continue;
		buf_printf(out, "\r\nFinal-Recipient: rfc822; %s\r\n", r->addr);
		if (r->orcpt != NULL)
			buf_printf(out, "Original-Recipient: %s\r\n", r->orcpt);
		buf_printf(out, "Action: failed\r\nStatus: %.*s\r\n", (int)enh_len, diag);
		buf_printf(out, "Diagnostic-Code: X-Mailroom; %s\r\n", diag);
		bounce_date(out, "Last-Attempt-Date", job->now);
	}
}

int bounce_write(struct deliver_job *job, const bool *bounced_now)
{
	struct queue_file bqf;
	struct buf head, tail;
	char boundary[64];
	bool any = false, full;
	uint64_t orig_len;
	int ret = 0, err;

	for (size_t i = 0; i < job->qf.nrcpts; i++)
		any |= bounce_wanted(job, bounced_now, i);
	if (!any || job->qf.sender[0] == '\0' || job->bounce_id[0] == '\0')
		return 0;
	snprintf(boundary, sizeof(boundary), "%s/%s", job->bounce_id, job->q->set.hostname);
	full = (job->qf.ret == NULL || strcasecmp(job->qf.ret, "HDRS") != 0) &&
	       job->qf.msg_size <= BOUNCE_FULL_MAX;
	orig_len = full ? job->qf.msg_size : strlen(job->headers);
	buf_init(&head, BUF_NO_LIMIT);
	buf_init(&tail, BUF_NO_LIMIT);
	bounce_text(job, bounced_now, &head, boundary);
	bounce_status(job, bounced_now, &head, boundary);
	buf_printf(&head, "\r\n--%s\r\nContent-Type: %s\r\n\r\n", boundary,
		   full ? "message/rfc822" : "text/rfc822-headers");
	buf_printf(&tail, "\r\n--%s--\r\n", boundary);

	queue_file_init(&bqf);
	bqf.id = xstrdup(job->bounce_id);
	bqf.arrival = job->now;
	bqf.sender = xstrdup("");
	bqf.proto = xstrdup("bounce");
	queue_file_add_rcpt(&bqf, job->qf.sender, QUEUE_NOTIFY_NEVER, NULL);

	struct queue_piece pieces[] = {
		{ head.data, head.len, -1, 0 },
		{ full ? NULL : job->headers, (size_t)orig_len, full ? job->fd : -1,
		  job->qf.msg_offset },
		{ tail.data, tail.len, -1, 0 },
	};
	char *dst = queue_path(job->q, QUEUE_ACTIVE, job->bounce_id);

	if (queue_file_write_durable(job->q, &bqf, pieces, 3, dst, &err) < 0) {
		errno = err;
		ret = -1;
	} else {
		job->bounce_written = true;
		job->bounce_size = head.len + orig_len + tail.len;
		ret = 1;
	}
	free(dst);
	queue_file_free(&bqf);
	buf_free(&head);
	buf_free(&tail);
	return ret;
}
