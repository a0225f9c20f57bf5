/* SPDX-License-Identifier: MIT */
/*
 * The state journal on a full filesystem, for tests/integration/state-full.sh: give it an
 * empty directory on a small filesystem of its own. It saves fragments, fills the filesystem
 * with another file until ENOSPC, then shows what is refused and what still works (TAP).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "state.h"
#include "unit/fixtures.h"
#include "unit/tap.h"

#define UID 1001
#define FIRST 20000 /* fragment fN forwards tcp port N */

static struct active_entry *entry(int i)
{
	char name[32], text[64];

	snprintf(name, sizeof(name), "f%d", i);
	snprintf(text, sizeof(text), "dnat tcp %d to 10.0.0.1\n", i);
	return fixture_entry("alice", UID, name, text, i);
}

/* Save fragments [from, to) in one batch, and keep them in `set`. */
static int save(struct state *s, struct active_set *set, int from, int to)
{
	struct state_batch *b = state_batch_new(s);
	int r = 0;

	for (int i = from; i < to && r == 0; i++) {
		struct active_entry *e = entry(i);
		r = state_batch_save(b, e);
		if (active_set_insert(set, e) < 0)
			abort();
	}
	if (r == 0)
		r = state_batch_commit(b);
	state_batch_free(b);
	return r;
}

/* Remove fragments [from, to) in one batch of removals, and from `set`. */
static int drop(struct state *s, struct active_set *set, int from, int to)
{
	struct state_batch *b = state_batch_new(s);
	int r;

	for (int i = from; i < to; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		state_batch_remove(b, UID, name);
		struct active_entry *e = active_set_find(set, "alice", name);
		if (e) {
			active_set_remove(set, e);
			active_entry_free(e);
		}
	}
	r = state_batch_commit(b);
	state_batch_free(b);
	return r;
}

/* "N records, M notes, first fA, last fB" of a load. */
static const char *loaded(int dir)
{
	return fixture_state_counts(dir, true);
}

static off_t size_of(int dir, const char *name)
{
	struct stat st;

	return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_size : -1;
}

static off_t blocks_of(int dir, const char *name)
{
	struct stat st;

	return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? (off_t)st.st_blocks * 512 : -1;
}

static void say_space(int dir, const char *when)
{
	struct statvfs v;

	if (fstatvfs(dir, &v) == 0)
		printf("# %s: %llu bytes free for us (%llu for root); journal %lld bytes, "
		       "%lld allocated\n",
		       when, (unsigned long long)v.f_bavail * v.f_frsize,
		       (unsigned long long)v.f_bfree * v.f_frsize,
		       (long long)size_of(dir, "journal"), (long long)blocks_of(dir, "journal"));
}

/* Write `fd` full: shorter and shorter writes until not one byte fits, even after a sync. */
static int fill(int fd, long long *ret_bytes)
{
	static char buf[1 << 16];
	long long total = 0;
	int r = 0;

	memset(buf, 'x', sizeof(buf));
	for (;;) {
		long long before = total;
		for (size_t chunk = sizeof(buf); chunk > 0;) {
			ssize_t n = write(fd, buf, chunk);
			if (n > 0) {
				total += n;
				continue;
			}
			if (n < 0 && errno != ENOSPC && errno != EDQUOT)
				return -errno;
			r = n < 0 ? -errno : r;
			chunk /= 2;
		}
		if (fsync(fd) < 0 && errno != ENOSPC)
			return -errno;
		if (total == before)
			break;
	}
	*ret_bytes = total;
	return r;
}

/* Can a new file of 4 KiB be written? (0, or why not) */
static int room_for_more(int dir)
{
	char buf[4096] = { 0 };
	int fd = openat(dir, "more", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int r = fd < 0 ? -errno : 0;

	if (fd >= 0 && write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		r = -errno;
	if (fd >= 0 && r == 0 && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dir, "more", 0);
	return r;
}

struct check {
	int top, dir, filler;
	struct state *s;
	struct active_set *set;
	struct state_batch *put; /* the 100 puts a full disk refuses */
};

/* 100 puts, 8 KiB: more than the unused end of the journal's last allocated block. */
static void stage_puts(struct check *c)
{
	state_batch_free(c->put);
	c->put = state_batch_new(c->s);
	for (int i = FIRST + 700; i < FIRST + 800; i++) {
		struct active_entry *e = entry(i);
		state_batch_save(c->put, e);
		active_entry_free(e);
	}
}

/* (a) */
static void refused(struct check *c, const char *want)
{
	off_t size = size_of(c->dir, "journal");

	is_int(state_batch_commit(c->put), -ENOSPC,
	       "(a) a batch of 100 puts is refused with ENOSPC");
	is_int(size_of(c->dir, "journal"), size, "(a) nothing of it is written");
	is_str(loaded(c->dir), want, "(a) nothing of it loads");
	ok(!state_reserve_ok(c->s), "(a) state_reserve_ok() says no");
	is_int(state_space_error(c->s), -ENOSPC, "(a) state_space_error() says ENOSPC");
}

/* (c) */
static void compact_fails(struct check *c, const char *want)
{
	off_t snapshot = size_of(c->dir, "snapshot"), journal = size_of(c->dir, "journal");

	is_int(state_compact(c->s, c->set), -ENOSPC, "(c) compaction fails with ENOSPC");
	is_int(size_of(c->dir, "snapshot"), snapshot, "(c) the old snapshot is untouched");
	is_int(size_of(c->dir, "journal"), journal, "(c) so is the journal");
	ok(size_of(c->dir, ".snapshot.tmp") < 0, "(c) no temporary file is left");
	is_str(loaded(c->dir), want, "(c) they load to the same records");
}

/* 610 fragments saved (600 in the snapshot, 10 in the journal), then the disk filled. */
static void setup(struct check *c)
{
	long long filled = 0;

	is_int(state_open(c->dir, &c->s), 0, "open a new state");
	ok(state_reserve_ok(c->s), "the reserve is taken");
	is_int(save(c->s, c->set, FIRST, FIRST + 600), 0, "600 puts commit");
	is_int(state_compact(c->s, c->set), 0, "a compaction writes them to the snapshot");
	is_int(save(c->s, c->set, FIRST + 600, FIRST + 610), 0,
	       "10 more puts commit, to the journal");
	is_str(loaded(c->dir), "610 records, 0 notes, first f20000, last f20609", "all 610 load");
	ok(blocks_of(c->dir, "journal") >= size_of(c->dir, "journal") + STATE_RESERVE_BYTES,
	   "the journal has its reserve past its end");
	say_space(c->dir, "before filling");
	c->filler = openat(c->top, "filler", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	is_int(fill(c->filler, &filled), -ENOSPC, "a filler file is written until ENOSPC");
	printf("# the filler took %lld bytes\n", filled);
	is_int(room_for_more(c->top), -ENOSPC, "not one more 4 KiB file fits");
	say_space(c->dir, "full");
}

/* (b) */
static void removals(struct check *c)
{
	off_t blocks = blocks_of(c->dir, "journal"), size = size_of(c->dir, "journal");

	is_int(drop(c->s, c->set, FIRST, FIRST + 500), 0,
	       "(b) a batch of 500 dels commits, into the reserve");
	is_str(loaded(c->dir), "110 records, 0 notes, first f20500, last f20609",
	       "(b) they are gone");
	ok(size_of(c->dir, "journal") > size + 4096 && blocks_of(c->dir, "journal") == blocks,
	   "(b) the journal grew by %lld bytes, all in blocks it had before",
	   (long long)(size_of(c->dir, "journal") - size));
	ok(!state_reserve_ok(c->s), "(b) the reserve could not be taken again");
	is_int(drop(c->s, c->set, FIRST + 500, FIRST + 550), 0,
	       "(b) another batch of 50 dels commits");
	is_str(loaded(c->dir), "60 records, 0 notes, first f20550, last f20609",
	       "(b) they are gone too");
	say_space(c->dir, "after the removals");
}

/* (c), also after a restart on the full disk: open, load, compact (fails), remove */
static void compaction(struct check *c)
{
	compact_fails(c, "60 records, 0 notes, first f20550, last f20609");
	is_int(drop(c->s, c->set, FIRST + 550, FIRST + 560), 0,
	       "(c) the journal still takes removals");
	is_str(loaded(c->dir), "50 records, 0 notes, first f20560, last f20609",
	       "(c) and they count");
	state_batch_free(c->put);
	c->put = NULL;
	state_free(c->s);
	is_int(state_open(c->dir, &c->s), 0, "(c) re-open on the full disk");
	is_str(loaded(c->dir), "50 records, 0 notes, first f20560, last f20609",
	       "(c) same records");
	compact_fails(c, "50 records, 0 notes, first f20560, last f20609");
	is_int(drop(c->s, c->set, FIRST + 560, FIRST + 570), 0,
	       "(c) removals still commit after it");
	is_str(loaded(c->dir), "40 records, 0 notes, first f20570, last f20609", "(c) and count");
	stage_puts(c);
	refused(c, "40 records, 0 notes, first f20570, last f20609");
	say_space(c->dir, "before freeing space");
}

/* (d) */
static void space_freed(struct check *c)
{
	close(c->filler);
	is_int(unlinkat(c->top, "filler", 0), 0, "(d) the filler is removed");
	is_int(state_retry_reserve(c->s), 0, "(d) state_retry_reserve() succeeds");
	ok(state_reserve_ok(c->s), "(d) state_reserve_ok() says yes");
	is_int(state_space_error(c->s), 0, "(d) no space error");
	is_int(state_batch_commit(c->put), 0, "(d) the refused batch, still staged, commits now");
	for (int i = FIRST + 700; i < FIRST + 800; i++)
		if (active_set_insert(c->set, entry(i)) < 0)
			abort();
	is_str(loaded(c->dir), "140 records, 0 notes, first f20570, last f20799", "(d) and loads");
	is_int(save(c->s, c->set, FIRST + 800, FIRST + 810), 0, "(d) new puts commit");
	is_int(state_compact(c->s, c->set), 0, "(d) compaction works again");
	is_str(loaded(c->dir), "150 records, 0 notes, first f20570, last f20809", "(d) all there");
	ok(state_reserve_ok(c->s), "(d) and the reserve is whole");
}

/* (e) a compaction truncates the journal, which gives its reserve back: it must get it again */
static void nearly_full(struct check *c)
{
	long long filled = 0;

	c->filler = openat(c->top, "filler", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	is_int(fill(c->filler, &filled), -ENOSPC, "(e) fill it again");
	is_int(ftruncate(c->filler, filled - (128 << 10)), 0, "(e) then free 128 KiB");
	is_int(state_compact(c->s, c->set), 0, "(e) a compaction on the nearly full disk works");
	ok(state_reserve_ok(c->s), "(e) and takes the reserve again");
	ok(blocks_of(c->dir, "journal") >= STATE_RESERVE_BYTES, "(e) %lld bytes of it",
	   (long long)blocks_of(c->dir, "journal"));
	is_int(drop(c->s, c->set, FIRST + 570, FIRST + 580), 0, "(e) removals commit");
	is_str(loaded(c->dir), "140 records, 0 notes, first f20580, last f20809", "(e) all there");
	say_space(c->dir, "at the end");
	close(c->filler);
}

int main(int argc, char **argv)
{
	struct check c = { .set = active_set_new() };

	if (argc != 2 || (c.top = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    mkdirat(c.top, "state", 0700) < 0 ||
	    (c.dir = openat(c.top, "state", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "usage: %s EMPTY-DIRECTORY-ON-A-SMALL-FILESYSTEM\n", argv[0]);
		return 2;
	}
	setup(&c);
	stage_puts(&c);
	refused(&c, "610 records, 0 notes, first f20000, last f20609");
	removals(&c);
	compaction(&c);
	space_freed(&c);
	nearly_full(&c);
	state_batch_free(c.put);
	state_free(c.s);
	active_set_free(c.set);
	close(c.dir);
	close(c.top);
	return tap_done();
}
