/* SPDX-License-Identifier: MIT */
/* The saved state: journal batches, snapshots, and what a crash can leave behind. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fixtures.h"
#include "state.h"
#include "staterecord.h"
#include "tap.h"

/*
 * A full disk, for state.c's calls only: while `fail_fallocate` is set, fallocate() fails
 * with it. (Built with _FILE_OFFSET_BITS=64, the libc symbol is fallocate64; main() checks
 * that this one is really the one called.) Writes still find space: a real full disk is
 * tests/integration/state-full.sh's job.
 */
static int fail_fallocate, fallocate_calls;

int fallocate64(int fd, int mode, off64_t offset, off64_t len)
{
	fallocate_calls++;
	if (fail_fallocate) {
		errno = fail_fallocate;
		return -1;
	}
	return (int)syscall(SYS_fallocate, fd, mode, offset, len);
}

static int dirfd_of(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static struct active_entry *entry(const char *user, uint32_t uid, const char *name, const char *text,
				  int64_t accepted)
{
	struct active_entry *e = fixture_entry(user, uid, name, text, accepted);

	e->expires = accepted + 60000;
	return e;
}

/* "uid/name:accepted" of every saved record, in load order. */
static char *summary(int dir)
{
	struct state_record *recs = NULL;
	struct diag_list errs;
	size_t n = 0, o = 0;
	static char buf[4096];

	diag_init(&errs);
	buf[0] = '\0';
	if (state_load(dir, &recs, &n, &errs) < 0)
		return strcpy(buf, "error");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%u/%s:%lld", i ? " " : "", recs[i].uid,
				      recs[i].frag->name, (long long)recs[i].accepted);
	if (errs.n)
		snprintf(buf + o, sizeof(buf) - o, " [%zu note%s]", errs.n, errs.n == 1 ? "" : "s");
	state_records_free(recs, n);
	return buf;
}

/* "N records, M notes" of a load. */
static const char *counts(int dir)
{
	return fixture_state_counts(dir, false);
}

static off_t size_of(int dir, const char *name)
{
	struct stat st;

	return fstatat(dir, name, &st, 0) == 0 ? st.st_size : -1;
}

/* Bytes allocated to the file, past its end too. */
static off_t allocated_of(int dir, const char *name)
{
	struct stat st;

	return fstatat(dir, name, &st, 0) == 0 ? (off_t)st.st_blocks * 512 : -1;
}

/* Does the file hold any NUL byte within its size? */
static bool has_nul(int dir, const char *name)
{
	char buf[4096];
	bool nul = false;
	ssize_t n;
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);

	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		nul = nul || memchr(buf, '\0', (size_t)n);
	if (fd >= 0)
		close(fd);
	return nul;
}

static int fresh_dir(char *path, size_t size)
{
	snprintf(path, size, "/tmp/natwarden-test-state-XXXXXX");
	return mkdtemp(path) ? dirfd_of(path) : -1;
}

static void remove_dir(int dir, const char *path)
{
	unlinkat(dir, "journal", 0);
	unlinkat(dir, "snapshot", 0);
	close(dir);
	rmdir(path);
}

/* A batch of `n` ports from `first`, one fragment each. */
static int commit_puts(struct state *s, int first, int n)
{
	struct state_batch *b = state_batch_new(s);
	int r = 0;

	for (int i = first; i < first + n && r == 0; i++) {
		char name[32], text[64];
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(text, sizeof(text), "dnat tcp %d to 10.0.0.1\n", i);
		struct active_entry *e = entry("alice", 1001, name, text, i);
		r = state_batch_save(b, e);
		active_entry_free(e);
	}
	if (r == 0)
		r = state_batch_commit(b);
	state_batch_free(b);
	return r;
}

/* The reserve: allocated past the journal's end, invisible in its size and to a load. */
static void test_reserve(void)
{
	char path[64];
	int dir = fresh_dir(path, sizeof(path));
	struct state *s = NULL;

	is_int(state_open(dir, &s), 0, "reserve: open a new journal");
	ok(state_reserve_ok(s), "reserve: taken at open");
	is_int(state_space_error(s), 0, "reserve: no space error");
	is_int(size_of(dir, "journal"), 0, "reserve: not in the journal's size");
	ok(allocated_of(dir, "journal") >= STATE_RESERVE_BYTES, "reserve: %lld bytes allocated",
	   (long long)allocated_of(dir, "journal"));
	is_int(commit_puts(s, 10000, 100), 0, "reserve: a batch of 100 puts commits");
	off_t size = size_of(dir, "journal");
	ok(allocated_of(dir, "journal") >= size + STATE_RESERVE_BYTES,
	   "reserve: whole again past the batch (%lld bytes for %lld)",
	   (long long)allocated_of(dir, "journal"), (long long)size);
	ok(state_reserve_ok(s), "reserve: ok after the batch");
	ok(!has_nul(dir, "journal"), "reserve: no preallocated zero within the journal's size");
	is_str(counts(dir), "100 records, 0 notes",
	       "reserve: all load, no note: nothing past the end is read");
	is_int(state_retry_reserve(s), 0, "reserve: a retry with space succeeds");
	state_free(s);
	remove_dir(dir, path);
}

/* A full disk (fallocate fails): additions are refused, removals still go to the reserve. */
static void test_full(void)
{
	char path[64];
	int dir = fresh_dir(path, sizeof(path));
	struct state *s = NULL;
	struct state_batch *b;
	struct active_entry *e = entry("bob", 1002, "late", "dnat tcp 9000 to 10.0.0.2\n", 7);

	is_int(state_open(dir, &s), 0, "full: open");
	is_int(commit_puts(s, 10000, 3), 0, "full: three puts commit");
	off_t size = size_of(dir, "journal");
	fail_fallocate = ENOSPC;

	b = state_batch_new(s);
	state_batch_save(b, e);
	is_int(state_batch_commit(b), -ENOSPC, "full: a batch with a put is refused");
	is_int(size_of(dir, "journal"), size, "full: nothing of it is written");
	ok(!state_reserve_ok(s), "full: the reserve is not ok");
	is_int(state_space_error(s), -ENOSPC, "full: the space error says why");

	struct state_batch *dels = state_batch_new(s);
	state_batch_remove(dels, 1001, "f10000");
	state_batch_remove(dels, 1001, "f10001");
	is_int(state_batch_commit(dels), 0, "full: a batch of removals commits, into the reserve");
	is_str(summary(dir), "1001/f10002:10002", "full: they are gone");

	state_batch_remove(dels, 1001, "f10002");
	state_batch_save(dels, e);
	is_int(state_batch_commit(dels), -ENOSPC, "full: a removal with a put is refused too");
	is_str(summary(dir), "1001/f10002:10002", "full: nothing of it counts");
	state_batch_free(dels);

	is_int(state_retry_reserve(s), -ENOSPC, "full: a retry fails while the disk is full");
	ok(!state_reserve_ok(s), "full: still not ok");
	fail_fallocate = 0;
	is_int(state_retry_reserve(s), 0, "full: a retry after space was freed succeeds");
	ok(state_reserve_ok(s), "full: ok again");
	is_int(state_space_error(s), 0, "full: no space error");
	is_int(state_batch_commit(b), 0, "full: the refused batch, still staged, commits now");
	is_str(summary(dir), "1002/late:7 1001/f10002:10002", "full: and counts");
	state_batch_free(b);
	active_entry_free(e);
	state_free(s);
	remove_dir(dir, path);
}

/* A compaction that cannot take the reserve again still compacts, and says so. */
static void test_full_compaction(void)
{
	char path[64];
	int dir = fresh_dir(path, sizeof(path));
	struct state *s = NULL;
	struct state_batch *dels;
	struct active_set *set = active_set_new();

	is_int(state_open(dir, &s), 0, "full compaction: open");
	active_set_insert(set, entry("bob", 1002, "late", "dnat tcp 9000 to 10.0.0.2\n", 7));
	fail_fallocate = ENOSPC;
	is_int(state_compact(s, set), 0,
	       "full compaction: works (the snapshot needs no fallocate)");
	is_str(summary(dir), "1002/late:7", "full compaction: the snapshot is the set");
	is_int(state_space_error(s), -ENOSPC, "full compaction: the reserve is not taken again");
	dels = state_batch_new(s);
	state_batch_remove(dels, 1002, "late");
	is_int(state_batch_commit(dels), -ENOSPC,
	       "full compaction: with no reserve left, even removals cannot be saved");
	is_str(summary(dir), "1002/late:7", "full compaction: and nothing of them counts");
	fail_fallocate = 0;
	is_int(state_retry_reserve(s), 0, "full compaction: retry");
	is_int(state_batch_commit(dels), 0, "full compaction: the removal commits");
	is_str(summary(dir), "", "full compaction: all gone");
	state_batch_free(dels);
	active_set_free(set);
	state_free(s);
	remove_dir(dir, path);
}

/* No fallocate (a filesystem without it, or any error but a full disk): no reserve, and no
 * batch is refused for it. */
static void test_no_prealloc(int err)
{
	char path[64];
	int dir = fresh_dir(path, sizeof(path));
	struct state *s = NULL;
	struct state_batch *b;
	const char *what = strerror(err);

	fail_fallocate = err;
	is_int(state_open(dir, &s), 0, "fallocate says '%s': open", what);
	ok(!state_reserve_ok(s), "fallocate says '%s': no reserve", what);
	is_int(state_space_error(s), -err, "fallocate says '%s': the space error says why", what);
	is_int(commit_puts(s, 10000, 2), 0, "fallocate says '%s': puts commit as before", what);
	b = state_batch_new(s);
	state_batch_remove(b, 1001, "f10000");
	is_int(state_batch_commit(b), 0, "fallocate says '%s': so do removals", what);
	state_batch_free(b);
	is_str(counts(dir), "1 records, 0 notes", "fallocate says '%s': and load", what);
	fail_fallocate = 0;
	state_free(s);
	remove_dir(dir, path);
}

/* A torn tail left by a crash is cut off at open: the batches after it count. */
static void test_torn_at_open(void)
{
	char path[64];
	int dir = fresh_dir(path, sizeof(path));
	struct state *s = NULL;
	const char *torn = "del 1001 f10000\nput 1001 9 0 alice x 1";

	is_int(state_open(dir, &s), 0, "torn: open");
	is_int(commit_puts(s, 10000, 2), 0, "torn: two puts commit");
	state_free(s);
	off_t good = size_of(dir, "journal");
	int j = openat(dir, "journal", O_WRONLY | O_APPEND | O_CLOEXEC);
	ok(write(j, torn, strlen(torn)) == (ssize_t)strlen(torn),
	   "torn: a crash leaves a torn batch");
	close(j);
	is_str(counts(dir), "2 records, 1 notes", "torn: a load ignores it, and says so");
	is_int(state_open(dir, &s), 0, "torn: re-open");
	is_int(size_of(dir, "journal"), good, "torn: the torn batch is cut off");
	ok(state_reserve_ok(s), "torn: the reserve is taken");
	is_int(commit_puts(s, 10002, 1), 0, "torn: another put commits");
	is_str(counts(dir), "3 records, 0 notes", "torn: it counts, nothing is ignored");
	state_free(s);
	remove_dir(dir, path);
}

/* A write that fails half-way (here: RLIMIT_FSIZE) is cut off; the next batch counts. */
static void test_failed_append(void)
{
	char path[64];
	int dir = fresh_dir(path, sizeof(path));
	struct state *s = NULL;
	struct rlimit old, small;

	is_int(state_open(dir, &s), 0, "half-written: open");
	is_int(commit_puts(s, 10000, 2), 0, "half-written: two puts commit");
	off_t good = size_of(dir, "journal");
	(void)signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	small = old;
	small.rlim_cur = (rlim_t)good + 100;
	setrlimit(RLIMIT_FSIZE, &small);
	is_int(commit_puts(s, 10002, 20), -EFBIG, "half-written: a batch fails part-way");
	setrlimit(RLIMIT_FSIZE, &old);
	is_int(size_of(dir, "journal"), good, "half-written: what it wrote is cut off");
	is_int(commit_puts(s, 10030, 1), 0, "half-written: the next batch commits");
	ok(state_reserve_ok(s), "half-written: the reserve is whole again");
	is_str(counts(dir), "3 records, 0 notes", "half-written: and counts");
	state_free(s);
	remove_dir(dir, path);
}

/* The bytes of a file, NUL-terminated (state files are text). */
static char *contents(int dir, const char *name)
{
	static char buf[8192];
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void put_file(int dir, const char *name, const char *text)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", name);
	if (fd >= 0)
		close(fd);
}

/* A batch of one put, as a format-1 file holds it: records and commit line, no format line. */
static char *format1_batch(const char *name, int port, int64_t accepted)
{
	char *text = NULL, body[64];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct active_entry *e;

	snprintf(body, sizeof(body), "dnat tcp %d to 10.0.0.1\n", port);
	e = entry("alice", 1001, name, body, accepted);
	staterecord_format_put(out, e->uid, e->accepted, e->expires, e->user, e->frag);
	fflush(out);
	staterecord_format_commit(out, 1, staterecord_checksum(text, len));
	fclose(out);
	active_entry_free(e);
	return text;
}

/* The files' format line: format 1 (none) is read and rewritten, a newer one is refused. */
static void test_format(void)
{
	char path[64], *old_snap = format1_batch("web", 80, 1000), *old_journal = format1_batch("dns", 53, 2000);
	struct active_set *set = active_set_new();
	struct state *s = NULL;
	struct diag_list errs;
	struct state_record *recs = NULL;
	size_t n = 0;
	int dir = fresh_dir(path, sizeof(path));

	/* natwarden 0.1.0's files, without a format line */
	put_file(dir, "snapshot", old_snap);
	put_file(dir, "journal", old_journal);
	is_str(summary(dir), "1001/web:1000 1001/dns:2000", "format 1 (no format line): both files are read");
	is_int(state_open(dir, &s), 0, "format 1: the journal opens");
	is_str(contents(dir, "journal"), old_journal, "... and is not cut back");
	active_set_insert(set, entry("alice", 1001, "web", "dnat tcp 80 to 10.0.0.1\n", 1000));
	is_int(state_compact(s, set), 0, "format 1: the start-up compaction rewrites the state");
	ok(strncmp(contents(dir, "snapshot"), "natwarden-state 2\nput 1001 ", 27) == 0,
	   "the snapshot now starts with its format line");
	is_int(size_of(dir, "journal"), 0, "the journal is empty");
	is_int(commit_puts(s, 7000, 1), 0, "a batch after it");
	ok(strncmp(contents(dir, "journal"), "natwarden-state 2\nput 1001 ", 27) == 0,
	   "the journal's first batch comes after its format line");
	is_str(summary(dir), "1001/web:1000 1001/f7000:7000", "format 2: both files are read");
	state_free(s);
	s = NULL;

	/* a newer format: refused, and nothing is cut back or rewritten */
	char newer[256];
	snprintf(newer, sizeof(newer), "natwarden-state 3\n%s", old_journal);
	put_file(dir, "journal", newer);
	diag_init(&errs);
	is_int(state_load(dir, &recs, &n, &errs), -EPROTONOSUPPORT, "format 3 in the journal: the load is refused");
	ok(errs.n == 1 && strstr(errs.items[0].text, "state journal: format 3, newer than the format 2 this natwardend reads") &&
	       strstr(errs.items[0].text, "Nothing was changed"),
	   "... saying which file, which format, and that nothing changed: %s", errs.n ? errs.items[0].text : "");
	is_int(state_open(dir, &s), 0, "format 3: the journal opens");
	is_str(contents(dir, "journal"), newer, "... and is not cut back (it holds no batch this code can read)");
	state_free(s);
	s = NULL;
	put_file(dir, "journal", "");
	snprintf(newer, sizeof(newer), "natwarden-state 12\n%s", old_snap);
	put_file(dir, "snapshot", newer);
	is_str(summary(dir), "error", "format 12 in the snapshot: refused");
	is_str(contents(dir, "snapshot"), newer, "... and left as it was");
	for (size_t i = 0; i < 4; i++) {
		static const char *const bad[] = { "natwarden-state\n", "natwarden-state 0\n",
						   "natwarden-state 2x\n", "natwarden-state  2\n" };
		put_file(dir, "snapshot", bad[i]);
		is_str(summary(dir), "error", "a malformed format line is refused: %.*s", (int)strlen(bad[i]) - 1, bad[i]);
	}
	put_file(dir, "snapshot", "natwarden-state 1\n");
	is_str(summary(dir), "", "a stated format 1 is read");
	active_set_free(set);
	free(old_snap);
	free(old_journal);
	remove_dir(dir, path);
}

int main(void)
{
	char path[] = "/tmp/natwarden-test-state-XXXXXX";
	struct active_entry *a, *b, *c;
	struct state_batch *batch;
	struct active_set *set;
	struct state *s = NULL;
	int dir;

	if (!mkdtemp(path) || (dir = dirfd_of(path)) < 0)
		return 1;
	is_str(summary(dir), "", "an empty directory holds no state");
	is_int(state_open(dir, &s), 0, "the journal opens (and is created)");

	a = entry("alice", 1001, "web", "dnat tcp 80 to 10.0.0.1\n", 3000);
	b = entry("bob", 1002, "game", "dnat udp 27015-27030 to 10.0.0.2\nlease 60\n", 1000);
	c = entry("alice", 1001, "ssh", "dnat tcp 2222 to 10.0.0.1:22\n", 2000);

	batch = state_batch_new(s);
	state_batch_save(batch, a);
	state_batch_save(batch, b);
	is_int(state_batch_commit(batch), 0, "a batch of two commits");
	is_str(summary(dir), "1002/game:1000 1001/web:3000", "both saved, oldest acceptance first");
	state_batch_save(batch, c);
	state_batch_remove(batch, 1002, "game");
	is_int(state_batch_commit(batch), 0, "a second batch on the same staging commits");
	is_str(summary(dir), "1001/ssh:2000 1001/web:3000", "a removal takes it away");
	is_int(state_batch_commit(batch), 0, "an empty batch commits nothing");

	/* a torn tail: a batch without its commit line does not count, nor does anything after */
	off_t good = size_of(dir, "journal");
	int j = openat(dir, "journal", O_WRONLY | O_APPEND);
	const char *torn = "del 1001 web\nput 1001 9 0 alice x 1";
	ok(write(j, torn, strlen(torn)) == (ssize_t)strlen(torn), "append a torn batch");
	is_str(summary(dir), "1001/ssh:2000 1001/web:3000 [1 note]", "a torn batch is ignored, and said so");
	ok(ftruncate(j, good) == 0, "cut it off again");
	/* a batch whose checksum does not match its records does not count */
	const char *forged = "del 1001 web\ncommit 1 0000000000000000\n";
	ok(write(j, forged, strlen(forged)) == (ssize_t)strlen(forged), "append a batch with a wrong checksum");
	is_str(summary(dir), "1001/ssh:2000 1001/web:3000 [1 note]", "a wrong checksum: ignored");
	ok(ftruncate(j, good) == 0, "cut it off again");
	close(j);
	state_free(s);
	s = NULL;

	/* re-open: the journal goes on where it was */
	is_int(state_open(dir, &s), 0, "re-open");
	batch = (state_batch_free(batch), state_batch_new(s));
	a->accepted = 4000;
	state_batch_save(batch, a);
	is_int(state_batch_commit(batch), 0, "a renewal commits");
	is_str(summary(dir), "1001/ssh:2000 1001/web:4000", "the later version wins");

	/* compaction: the snapshot holds exactly the active set, the journal is empty */
	set = active_set_new();
	active_set_insert(set, entry("alice", 1001, "web", "dnat tcp 80 to 10.0.0.1\n", 4000));
	active_set_insert(set, entry("carol", 1003, "mail", "dnat tcp 25 to 10.0.0.3\n", 5000));
	is_int(state_compact(s, set), 0, "compaction");
	is_int(size_of(dir, "journal"), 0, "the journal is empty after it");
	is_str(summary(dir), "1001/web:4000 1003/mail:5000", "the snapshot is the active set");
	ok(!state_wants_compaction(s), "a small journal wants no compaction");

	/* a crash between the snapshot and the journal's truncation: replaying is harmless */
	state_batch_remove(batch, 1003, "mail");
	state_batch_save(batch, c);
	is_int(state_batch_commit(batch), 0, "more changes");
	char *before = strdup(summary(dir));
	struct active_set *now = active_set_new();
	active_set_insert(now, entry("alice", 1001, "web", "dnat tcp 80 to 10.0.0.1\n", 4000));
	active_set_insert(now, entry("alice", 1001, "ssh", "dnat tcp 2222 to 10.0.0.1:22\n", 2000));
	off_t journal = size_of(dir, "journal");
	char *saved = malloc((size_t)journal);
	j = openat(dir, "journal", O_RDONLY);
	ok(read(j, saved, (size_t)journal) == journal, "keep the journal's bytes");
	close(j);
	is_int(state_compact(s, now), 0, "compact");
	j = openat(dir, "journal", O_WRONLY | O_APPEND);
	ok(write(j, saved, (size_t)journal) == journal, "put the old journal back, as if never truncated");
	close(j);
	is_str(summary(dir), before, "snapshot plus the old journal is the same state");
	free(before);
	free(saved);

	/* nothing but the two files is ever written */
	ok(size_of(dir, ".snapshot.tmp") < 0, "no temporary file is left");
	state_free(s);
	state_batch_free(batch);
	active_set_free(set);
	active_set_free(now);
	active_entry_free(a);
	active_entry_free(b);
	active_entry_free(c);
	unlinkat(dir, "journal", 0);
	unlinkat(dir, "snapshot", 0);
	close(dir);
	rmdir(path);

	test_format();

	/* the fault injection is in place; then everything about space */
	fail_fallocate = ENOSPC;
	int calls = fallocate_calls;
	is_int(fallocate(-1, FALLOC_FL_KEEP_SIZE, 0, 1) < 0 ? -errno : 0, -ENOSPC,
	       "fault injection: fallocate is this test's");
	is_int(fallocate_calls, calls + 1, "fault injection: and counted");
	fail_fallocate = 0;
	int probe = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (probe >= 0 && fallocate(probe, FALLOC_FL_KEEP_SIZE, 0, 4096) < 0 &&
	    errno == EOPNOTSUPP) {
		printf("ok %d # SKIP /tmp cannot preallocate: no reserve to test\n", ++tap_count);
	} else {
		test_reserve();
		test_full();
		test_full_compaction();
		test_torn_at_open();
		test_failed_append();
	}
	if (probe >= 0)
		close(probe);
	test_no_prealloc(EOPNOTSUPP);
	test_no_prealloc(EPERM);
	return tap_done();
}
