/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

#define STATE_MAGIC "natwarden-state 1\n"
#define STATE_MAX_BYTES (FRAGMENT_MAX_BYTES + 1024)

struct staged {
	char name[96];
	bool remove;
};

struct state_batch {
	int dirfd;
	struct staged *items;
	size_t n, allocated;
};

static void file_name(char *buf, size_t size, uint32_t uid, const char *name)
{
	snprintf(buf, size, "%" PRIu32 "-%s", uid, name);
}

struct state_batch *state_batch_new(int dirfd)
{
	struct state_batch *b = calloc(1, sizeof(*b));

	if (b)
		b->dirfd = dirfd;
	return b;
}

static struct staged *stage(struct state_batch *b, uint32_t uid, const char *name)
{
	char file[96];

	file_name(file, sizeof(file), uid, name);
	/* a later change to the same fragment in one batch replaces the earlier one */
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->items[i].name, file) == 0)
			return &b->items[i];
	if (b->n == b->allocated) {
		size_t n = b->allocated ? b->allocated * 2 : 16;
		struct staged *grown = reallocarray(b->items, n, sizeof(*grown));
		if (!grown)
			return NULL;
		b->items = grown;
		b->allocated = n;
	}
	struct staged *s = &b->items[b->n++];
	snprintf(s->name, sizeof(s->name), "%s", file);
	return s;
}

static char *render(const struct active_entry *e, size_t *ret_len)
{
	_cleanup_free_ char *body = fragment_print(e->frag);
	char *text = NULL;
	int n;

	if (!body)
		return NULL;
	n = asprintf(&text,
		     STATE_MAGIC "uid %" PRIu32 "\nuser %s\naccepted %" PRId64 "\nexpires %" PRId64
				 "\nfragment\n%s",
		     e->uid, e->user, e->accepted, e->expires, body);
	if (n < 0)
		return NULL;
	*ret_len = (size_t)n;
	return text;
}

int state_batch_save(struct state_batch *b, const struct active_entry *e)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	struct staged *s = stage(b, e->uid, e->frag->name);
	char tmp[128];
	size_t len;

	if (!s)
		return -ENOMEM;
	text = render(e, &len);
	if (!text)
		return -ENOMEM;
	s->remove = false;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", s->name);
	fd = openat(b->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* made durable at commit, with one syncfs() for the whole batch */
	return write_all(fd, text, len);
}

int state_batch_remove(struct state_batch *b, uint32_t uid, const char *name)
{
	struct staged *s = stage(b, uid, name);

	if (!s)
		return -ENOMEM;
	s->remove = true;
	return 0;
}

int state_batch_commit(struct state_batch *b)
{
	int r = 0;

	/* the new contents reach the disk before any name points at them */
	if (b->n && syncfs(b->dirfd) < 0)
		return -errno;
	for (size_t i = 0; i < b->n; i++) {
		char tmp[128];
		snprintf(tmp, sizeof(tmp), ".%s.tmp", b->items[i].name);
		if (b->items[i].remove) {
			unlinkat(b->dirfd, tmp, 0);
			if (unlinkat(b->dirfd, b->items[i].name, 0) < 0 && errno != ENOENT && !r)
				r = -errno;
		} else if (renameat(b->dirfd, tmp, b->dirfd, b->items[i].name) < 0 && !r) {
			r = -errno;
		}
	}
	if (b->n && fsync(b->dirfd) < 0 && !r)
		r = -errno;
	b->n = 0;
	return r;
}

void state_batch_free(struct state_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		char tmp[128];
		snprintf(tmp, sizeof(tmp), ".%s.tmp", b->items[i].name);
		unlinkat(b->dirfd, tmp, 0);
	}
	free(b->items);
	free(b);
}

/* "key value\n" at *p; advances *p. */
static int header(const char **p, const char *end, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (!nl || (size_t)(nl - *p) <= klen + 1 || strncmp(*p, key, klen) != 0 || (*p)[klen] != ' ')
		return -EINVAL;
	if ((size_t)(nl - *p) - klen - 1 >= size)
		return -EINVAL;
	snprintf(val, size, "%.*s", (int)((size_t)(nl - *p) - klen - 1), *p + klen + 1);
	*p = nl + 1;
	return 0;
}

static int parse_record(const char *file, const char *text, size_t len, struct state_record *rec,
			struct diag_list *errs)
{
	const char *p = text, *end = text + len, *dash = strchr(file, '-');
	char uid[16], accepted[24], expires[24];
	uint32_t u;
	struct diag_list ferrs;

	if (len < strlen(STATE_MAGIC) || memcmp(text, STATE_MAGIC, strlen(STATE_MAGIC)) != 0)
		return -EINVAL;
	p += strlen(STATE_MAGIC);
	if (header(&p, end, "uid", uid, sizeof(uid)) < 0 ||
	    header(&p, end, "user", rec->user, sizeof(rec->user)) < 0 ||
	    header(&p, end, "accepted", accepted, sizeof(accepted)) < 0 ||
	    header(&p, end, "expires", expires, sizeof(expires)) < 0 ||
	    (size_t)(end - p) < 9 || memcmp(p, "fragment\n", 9) != 0)
		return -EINVAL;
	p += 9;
	if (parse_uint32(uid, strlen(uid), 0, UINT32_MAX - 1, &u) < 0 || !dash)
		return -EINVAL;
	rec->uid = u;
	rec->accepted = strtoll(accepted, NULL, 10);
	rec->expires = strtoll(expires, NULL, 10);
	/* the file name must agree with what the file says */
	char want[96];
	diag_init(&ferrs);
	if (fragment_parse(dash + 1, p, (size_t)(end - p), &rec->frag, &ferrs) < 0) {
		diag_add(errs, 0, "state file %s: %s", file, ferrs.n ? ferrs.items[0].text : "unreadable");
		return -EBADMSG;
	}
	file_name(want, sizeof(want), rec->uid, rec->frag->name);
	if (strcmp(want, file) != 0) {
		fragment_free(rec->frag);
		rec->frag = NULL;
		return -EINVAL;
	}
	snprintf(rec->file, sizeof(rec->file), "%s", file);
	return 0;
}

static int compare_records(const void *x, const void *y)
{
	const struct state_record *a = x, *b = y;

	if (a->accepted != b->accepted)
		return a->accepted < b->accepted ? -1 : 1;
	return strcmp(a->file, b->file);
}

int state_load(int dirfd, struct state_record **ret, size_t *ret_n, struct diag_list *errs)
{
	struct state_record *recs = NULL;
	size_t n = 0, allocated = 0;
	struct dirent *de;
	DIR *d = opendir_at(dirfd);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *text = NULL;
		_cleanup_close_ int fd = -1;
		size_t len;

		if (de->d_name[0] == '.') {
			/* leftovers of an interrupted batch: never renamed, so never accepted */
			if (strstr(de->d_name, ".tmp"))
				unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		if (n == allocated) {
			allocated = allocated ? allocated * 2 : 64;
			struct state_record *grown = reallocarray(recs, allocated, sizeof(*grown));
			if (!grown) {
				closedir(d);
				state_records_free(recs, n);
				return -ENOMEM;
			}
			recs = grown;
		}
		memset(&recs[n], 0, sizeof(recs[n]));
		fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || read_fd_capped(fd, STATE_MAX_BYTES, &text, &len) < 0) {
			diag_add(errs, 0, "state file %s: cannot read it", de->d_name);
			continue;
		}
		int r = parse_record(de->d_name, text, len, &recs[n], errs);
		if (r == -EINVAL)
			diag_add(errs, 0, "state file %s: not a natwarden state file", de->d_name);
		if (r < 0)
			continue;
		n++;
	}
	closedir(d);
	if (n)
		qsort(recs, n, sizeof(*recs), compare_records);
	*ret = recs;
	*ret_n = n;
	return (int)n;
}

void state_records_free(struct state_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fragment_free(r[i].frag);
	free(r);
}
