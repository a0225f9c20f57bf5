/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "hashmap.h"
#include "macro.h"
#include "staterecord.h"

#define SNAPSHOT "snapshot"
#define JOURNAL "journal"
#define STATE_MAX_BYTES ((size_t)1 << 30)   /* what a load reads at most from either file */
#define COMPACT_MIN_BYTES ((off_t)4 << 20) /* below this the journal is never folded */
/* what state_retry_reserve wants besides the reserve: one more put of the largest fragment */
#define RETRY_ROOM ((off_t)FRAGMENT_MAX_BYTES + 4096)
#define ALLOCATE_STEP ((off_t)64 << 10)

struct state {
	int dirfd;
	int journal;	/* O_APPEND */
	off_t journal_size, snapshot_size;
	off_t allocated; /* the journal's blocks are known to be allocated up to here */
	int space_error; /* 0, or the -errno of the last failed allocation */
	bool torn;	 /* a failed append could not be cut off: do it before the next one */
};

struct state_batch {
	struct state *s;
	char *text;
	size_t len;
	FILE *out;
	size_t records;
	bool puts;
};

_Static_assert(STATERECORD_USER_MAX == NAME_MAX_USER, "a saved record holds any user name");

static bool out_of_space(int r)
{
	return r == -ENOSPC || r == -EDQUOT;
}

/*
 * Have the `len` bytes past the journal's end allocated, without changing its size: appends
 * there need no free space. Only what is not known to be allocated is asked for, in steps:
 * a request that fails may give back all it took (tmpfs does), so on a nearly full disk the
 * steps before it still count. Remember how that went.
 */
static int allocate(struct state *s, off_t len)
{
	off_t want = s->journal_size + len;

	if (s->allocated < s->journal_size)
		s->allocated = s->journal_size;
	s->space_error = 0;
	while (s->allocated < want) {
		off_t step = want - s->allocated;
		if (step > ALLOCATE_STEP)
			step = ALLOCATE_STEP;
		if (fallocate(s->journal, FALLOC_FL_KEEP_SIZE, s->allocated, step) < 0) {
			s->space_error = -errno;
			break;
		}
		s->allocated += step;
	}
	return s->space_error;
}

/* Cut off what a failed append left past the last batch, so the batches after it count. */
static int cut_back(struct state *s)
{
	struct stat st;

	if (fstat(s->journal, &st) < 0)
		return -errno;
	if (st.st_size > s->journal_size) {
		if (ftruncate(s->journal, s->journal_size) < 0) {
			s->torn = true;
			return -errno;
		}
		/* a truncation frees the blocks past the new end too: the reserve is gone */
		s->allocated = s->journal_size;
	}
	s->torn = false;
	return 0;
}

static int journal_committed(int dirfd, off_t *ret);

int state_open(int dirfd, struct state **ret)
{
	struct state *s = calloc(1, sizeof(*s));
	struct stat st;
	off_t good;

	if (!s)
		return -ENOMEM;
	s->dirfd = dirfd;
	s->journal = openat(dirfd, JOURNAL, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->journal < 0 || fstat(s->journal, &st) < 0) {
		int r = -errno;
		state_free(s);
		return r;
	}
	s->journal_size = s->allocated = good = st.st_size;
	if (fstatat(dirfd, SNAPSHOT, &st, AT_SYMLINK_NOFOLLOW) == 0)
		s->snapshot_size = st.st_size;
	/* a torn tail (a crash in an append): batches appended after it would never count */
	(void)journal_committed(dirfd, &good); /* unreadable: the load says so, nothing is cut */
	if (good < s->journal_size) {
		s->journal_size = good;
		(void)cut_back(s); /* else every commit tries again, and fails */
	}
	(void)allocate(s, STATE_RESERVE_BYTES); /* else remembered: see state_space_error() */
	*ret = s;
	return 0;
}

void state_free(struct state *s)
{
	if (!s)
		return;
	if (s->journal >= 0)
		close(s->journal);
	free(s);
}

struct state_batch *state_batch_new(struct state *s)
{
	struct state_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->s = s;
	b->out = open_memstream(&b->text, &b->len);
	if (!b->out) {
		free(b);
		return NULL;
	}
	return b;
}

static int put_record(FILE *out, const struct active_entry *e)
{
	return staterecord_format_put(out, e->uid, e->accepted, e->expires, e->user, e->frag);
}

int state_batch_save(struct state_batch *b, const struct active_entry *e)
{
	int r = put_record(b->out, e);

	if (r == 0) {
		b->records++;
		b->puts = true;
	}
	return r;
}

int state_batch_remove(struct state_batch *b, uint32_t uid, const char *name)
{
	int r = staterecord_format_del(b->out, uid, name);

	if (r == 0)
		b->records++;
	return r;
}

/*
 * Close the batch's text with its commit line (text and len move with every flush); the
 * batch starts `from` bytes into the text (after a format line).
 */
static int seal(FILE *out, char *const *text, const size_t *len, size_t from, size_t records)
{
	uint64_t h;

	if (fflush(out) != 0)
		return -ENOMEM;
	h = staterecord_checksum(*text + from, *len - from);
	staterecord_format_commit(out, records, h);
	return fflush(out) != 0 ? -ENOMEM : 0;
}

/*
 * Before anything is written: find room for the batch. Additions need room for themselves
 * and a whole reserve after them; removals need only room for themselves, and have it in
 * the reserve. A removal that finds none is refused too: written, it would fail part-way,
 * and cutting it off would give back what is left of the reserve. Where nothing can be
 * preallocated (-EOPNOTSUPP, or another error than a full disk), batches go as they come.
 */
static int make_room(struct state *s, off_t len, bool puts)
{
	int r = allocate(s, puts ? len + STATE_RESERVE_BYTES : len);

	return out_of_space(r) ? r : 0;
}

int state_batch_commit(struct state_batch *b)
{
	struct state *s = b->s;
	int r;

	if (!b->records)
		return 0;
	if (s->torn && (r = cut_back(s)) < 0)
		return r;
	if (fflush(b->out) != 0)
		return -ENOMEM;
	/* an empty journal (new, or just folded into the snapshot) starts with its format line */
	size_t head = s->journal_size == 0 ? strlen(STATERECORD_FORMAT_LINE) : 0;
	r = make_room(s, (off_t)(head + b->len + STATERECORD_COMMIT_MAX), b->puts);
	if (r < 0)
		return r; /* nothing written, the batch unsealed: it may be committed again */
	r = seal(b->out, &b->text, &b->len, 0, b->records);
	if (r < 0)
		return r;
	r = head ? write_all(s->journal, STATERECORD_FORMAT_LINE, head) : 0;
	if (r == 0)
		r = write_all(s->journal, b->text, b->len);
	if (r == 0 && fdatasync(s->journal) < 0)
		r = -errno;
	if (r < 0) {
		/* a half-written batch has no valid commit line: cut it off, so later ones count */
		if (cut_back(s) == 0)
			(void)allocate(s, STATE_RESERVE_BYTES);
		return r;
	}
	s->journal_size += (off_t)(head + b->len);
	(void)allocate(s, STATE_RESERVE_BYTES); /* a no-op after additions: they made room */
	/* the next batch starts empty */
	(void)fclose(b->out); /* a memstream: its text is freed next */
	free(b->text);
	b->text = NULL;
	b->len = 0;
	b->records = 0;
	b->puts = false;
	b->out = open_memstream(&b->text, &b->len);
	return b->out ? 0 : -ENOMEM;
}

void state_batch_free(struct state_batch *b)
{
	if (!b)
		return;
	if (b->out)
		(void)fclose(b->out); /* a memstream, dropped */
	free(b->text);
	free(b);
}

bool state_reserve_ok(const struct state *s)
{
	return s->space_error == 0 && s->allocated >= s->journal_size + STATE_RESERVE_BYTES;
}

int state_space_error(const struct state *s)
{
	if (state_reserve_ok(s))
		return 0;
	return s->space_error < 0 ? s->space_error : -ENOSPC;
}

int state_retry_reserve(struct state *s)
{
	int r;

	if (s->torn && (r = cut_back(s)) < 0)
		return r;
	return allocate(s, STATE_RESERVE_BYTES + RETRY_ROOM);
}

bool state_wants_compaction(const struct state *s)
{
	return s->journal_size > COMPACT_MIN_BYTES && s->journal_size > s->snapshot_size;
}

int state_compact(struct state *s, const struct active_set *a)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0, n = active_set_size(a);
	FILE *out = open_memstream(&text, &len);
	int r = 0;

	if (!out)
		return -ENOMEM;
	fputs(STATERECORD_FORMAT_LINE, out);
	for (size_t i = 0; i < n && r == 0; i++)
		r = put_record(out, active_set_at(a, i));
	if (r == 0)
		r = seal(out, &text, &len, strlen(STATERECORD_FORMAT_LINE), n);
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	/* On a full disk this fails and removes its temporary file: the old snapshot and the
	 * journal stay as they were. Should only the directory's fsync fail, the new snapshot
	 * is in place and the journal, replayed over it, changes nothing. */
	r = write_file_atomic(s->dirfd, SNAPSHOT, text, len, 0600, 1);
	if (r < 0)
		return r;
	s->snapshot_size = (off_t)len;
	/* The snapshot holds all the journal said: a crash before this truncation only means the
	 * journal is replayed over it once more, which changes nothing. */
	if (ftruncate(s->journal, 0) < 0)
		return -errno;
	s->journal_size = s->allocated = 0; /* the reserve went with it; the next batch writes
					     * the format line */
	s->torn = false;
	r = fsync(s->journal) < 0 ? -errno : 0;
	(void)allocate(s, STATE_RESERVE_BYTES); /* else remembered: see state_space_error() */
	return r;
}

/* ---- loading ---------------------------------------------------------------------------- */

struct loader {
	struct state_record *recs;
	size_t n, allocated;
	struct u64map index; /* hash of (uid, name) -> position in recs + 1 */
	struct diag_list *errs;
};

static uint64_t key_of(uint32_t uid, const char *name)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%" PRIu32 "/%s", uid, name);

	/* UINT64_MAX is the map's reserved key */
	uint64_t h = staterecord_checksum(buf, n > 0 ? (size_t)n : 0);
	return h == UINT64_MAX ? h - 1 : h;
}

static ssize_t find(struct loader *l, uint32_t uid, const char *name)
{
	uint64_t pos;

	if (u64map_get(&l->index, key_of(uid, name), &pos)) {
		struct state_record *r = &l->recs[pos - 1];
		if (r->uid == uid && r->frag && strcmp(r->frag->name, name) == 0)
			return (ssize_t)pos - 1;
	}
	/* not indexed, or a hash collision: look through everything (never in practice) */
	for (size_t i = 0; i < l->n; i++)
		if (l->recs[i].frag && l->recs[i].uid == uid && strcmp(l->recs[i].frag->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static int apply_put(struct loader *l, struct state_record *rec)
{
	ssize_t i = find(l, rec->uid, rec->frag->name);

	if (i >= 0) {
		fragment_free(l->recs[i].frag);
		l->recs[i] = *rec;
		return 0;
	}
	if (l->n == l->allocated) {
		size_t n = l->allocated ? l->allocated * 2 : 64;
		struct state_record *grown = reallocarray(l->recs, n, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->recs = grown;
		l->allocated = n;
	}
	l->recs[l->n] = *rec;
	if (u64map_put(&l->index, key_of(rec->uid, rec->frag->name), l->n + 1) < 0)
		return -ENOMEM;
	l->n++;
	return 0;
}

static void apply_del(struct loader *l, uint32_t uid, const char *name)
{
	ssize_t i = find(l, uid, name);

	if (i >= 0) {
		fragment_free(l->recs[i].frag);
		l->recs[i].frag = NULL; /* a hole, skipped at the end */
	}
}

/* One record of a batch, parsed, not applied. */
struct pending {
	bool del;
	struct state_record rec;
	char name[FRAGMENT_NAME_MAX + 1];
};

/*
 * A put or del record from its parsed head, and a put's body from `*p`, moving `*p` past it.
 * -EBADMSG for anything else.
 */
static int parse_record(const struct staterecord_head *h, const char **p, const char *end,
			struct pending *out)
{
	int r;

	switch (h->kind) {
	case STATERECORD_PUT:
		r = staterecord_parse_body(h, *p, (size_t)(end - *p), &out->rec.frag);
		if (r < 0)
			return r;
		out->rec.uid = h->uid;
		out->rec.accepted = h->accepted;
		out->rec.expires = h->expires;
		snprintf(out->rec.user, sizeof(out->rec.user), "%s", h->user);
		*p += h->length;
		return 0;
	case STATERECORD_DEL:
		out->rec.uid = h->uid;
		snprintf(out->name, sizeof(out->name), "%s", h->name);
		out->del = true;
		return 0;
	default:
		return -EBADMSG;
	}
}

/*
 * The file's format line: *ret points past it (at the text for a format-1 file without one).
 * A format newer than this code's, or a malformed format line, is refused: the daemon must
 * neither read the file as something else nor cut it back.
 */
static int skip_format(struct loader *l, const char *file, const char *text, size_t len,
		       const char **ret)
{
	const char *nl = memchr(text, '\n', len);
	unsigned format;
	size_t skip;

	*ret = text;
	if (!nl) /* empty, or a torn first line: no batch to read either way */
		return 0;
	if (staterecord_parse_format(text, (size_t)(nl - text), &format, &skip) < 0) {
		diag_add(l->errs, 0,
			 "state %s: its first line is a malformed format line. Nothing was changed",
			 file);
		return -EPROTONOSUPPORT;
	}
	if (format > STATERECORD_FORMAT) {
		diag_add(l->errs, 0,
			 "state %s: format %u, newer than the format %d this natwardend reads: "
			 "a newer natwarden wrote it. Nothing was changed; install that version again, "
			 "or move the state directory aside to start with nothing saved",
			 file, format, STATERECORD_FORMAT);
		return -EPROTONOSUPPORT;
	}
	*ret = text + skip;
	return 0;
}

/*
 * Apply every committed batch of one file; stop at the first thing that is not one. Bytes
 * past the end of the file (the journal's reserve) are never read. `ret_good`, if not NULL,
 * gets the length of the committed batches once the file could be read.
 */
static int load_file(struct loader *l, int dirfd, const char *file, size_t *ret_good)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	struct pending *pend = NULL;
	size_t len, n_pend = 0, cap = 0;
	const char *p, *end, *batch_start;
	int r;

	fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = read_fd_capped(fd, STATE_MAX_BYTES, &text, &len);
	if (r < 0) {
		diag_add(l->errs, 0, "state %s: cannot read it: %s", file, strerror(-r));
		return 0;
	}
	end = text + len;
	r = skip_format(l, file, text, len, &p);
	if (r < 0)
		goto fail;
	batch_start = p;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct staterecord_head head;

		if (!nl)
			break; /* a torn last line */
		if (staterecord_parse_head(p, (size_t)(nl - p), &head) < 0)
			break;
		if (head.kind == STATERECORD_COMMIT) {
			/* does it close the batch that has these records and this checksum? */
			if (head.records != n_pend ||
			    head.checksum !=
				staterecord_checksum(batch_start, (size_t)(p - batch_start)))
				break;
			for (size_t i = 0; i < n_pend; i++) {
				if (pend[i].del)
					apply_del(l, pend[i].rec.uid, pend[i].name);
				else if ((r = apply_put(l, &pend[i].rec)) < 0)
					goto fail;
				pend[i].rec.frag = NULL;
			}
			n_pend = 0;
			p = batch_start = nl + 1;
			continue;
		}
		if (n_pend == cap) {
			cap = cap ? cap * 2 : 64;
			struct pending *grown = reallocarray(pend, cap, sizeof(*grown));
			if (!grown) {
				r = -ENOMEM;
				goto fail;
			}
			pend = grown;
		}
		struct pending *pd = &pend[n_pend];
		memset(pd, 0, sizeof(*pd));
		p = nl + 1;
		if (parse_record(&head, &p, end, pd) < 0)
			break;
		n_pend++;
	}
	if (p < end || n_pend)
		diag_add(l->errs, 0, "state %s: ignored %zu bytes after the last complete batch",
			 file, (size_t)(end - batch_start));
	if (ret_good)
		*ret_good = (size_t)(batch_start - text);
	r = 0;
fail:
	for (size_t i = 0; i < n_pend; i++)
		fragment_free(pend[i].rec.frag);
	free(pend);
	return r;
}

/* How much of the journal its committed batches fill (unchanged when it cannot be read). */
static int journal_committed(int dirfd, off_t *ret)
{
	struct diag_list errs;
	struct loader l = { .errs = &errs };
	size_t good = SIZE_MAX;
	int r;

	diag_init(&errs);
	u64map_init(&l.index);
	r = load_file(&l, dirfd, JOURNAL, &good);
	u64map_finish(&l.index);
	state_records_free(l.recs, l.n);
	if (r == 0 && good != SIZE_MAX)
		*ret = (off_t)good;
	return r;
}

static int compare_records(const void *x, const void *y)
{
	const struct state_record *a = x, *b = y;

	if (a->accepted != b->accepted)
		return a->accepted < b->accepted ? -1 : 1;
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return strcmp(a->frag->name, b->frag->name);
}

int state_load(int dirfd, struct state_record **ret, size_t *ret_n, struct diag_list *errs)
{
	struct loader l = { .errs = errs };
	size_t kept = 0;
	int r;

	u64map_init(&l.index);
	r = load_file(&l, dirfd, SNAPSHOT, NULL);
	if (r == 0)
		r = load_file(&l, dirfd, JOURNAL, NULL);
	u64map_finish(&l.index);
	if (r < 0) {
		state_records_free(l.recs, l.n);
		return r;
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.recs[i].frag)
			l.recs[kept++] = l.recs[i];
	if (kept)
		qsort(l.recs, kept, sizeof(*l.recs), compare_records);
	*ret = l.recs;
	*ret_n = kept;
	return (int)kept;
}

void state_records_free(struct state_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fragment_free(r[i].frag);
	free(r);
}
